"""The customer portal in a real browser (headless Chromium driven by chromedriver).

Run by PortalBrowserTests with a server it started (demo catalog, e-mail written to a directory):
  portal_browser.py CONFIG.json
CONFIG: base, key (admin secret key), mail (the directory the server writes e-mail to),
screenshots (a directory).
Prints one line per check; exits 1 at the first failed one, saying which.
"""

import email
import email.policy
import glob
import io
import json
import os
import re
import sys
import time
import urllib.parse
import urllib.request

import zxingcpp
from PIL import Image

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from browser_support import axe_check, browser, check, forge_form, totp

config = json.load(open(sys.argv[1]))
BASE = config["base"]
KEY = config["key"]
SHOTS = config["screenshots"]
os.makedirs(SHOTS, exist_ok=True)
PASSWORD = "correct horse battery staple"


def api(method, path, body=None, key=KEY):
    request = urllib.request.Request(BASE + path, method=method)
    if key:
        request.add_header("Authorization", "Bearer " + key)
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def mail_link(to, path, seen=()):
    """The first link to `path` in an e-mail to `to` that the server wrote (the outbox sends it
    in the background: the file appears within seconds)."""
    deadline = time.time() + 30
    while time.time() < deadline:
        for name in sorted(glob.glob(os.path.join(config["mail"], "*.eml"))):
            if name in seen:
                continue
            message = email.message_from_binary_file(open(name, "rb"), policy=email.policy.default)
            if to not in str(message["To"]):
                continue
            text = message.get_body(preferencelist=("plain",)).get_content()
            found = re.search(r"https?://[^/\s]+(" + re.escape(path) + r"\S*)", text)
            if found:
                # The server was started on port 0 (any free one): its links name port 0, so
                # the link's path and query are followed on the address it listens on.
                return BASE + found.group(1)
        time.sleep(0.2)
    check(False, f"an e-mail to {to} with a link to {path}")


def mail_to(to, subject_part):
    """The e-mail to `to` whose subject holds `subject_part`, once the outbox has written it."""
    deadline = time.time() + 30
    while time.time() < deadline:
        for name in sorted(glob.glob(os.path.join(config["mail"], "*.eml"))):
            message = email.message_from_binary_file(open(name, "rb"), policy=email.policy.default)
            if to in str(message["To"]) and subject_part in str(message["Subject"]):
                return message
        time.sleep(0.2)
    check(False, f"an e-mail to {to} about {subject_part}")


def wait_loaded(driver):
    WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")


def click(driver, css, confirm=None):
    """Clicks what submits a form or follows a link, and waits for the next page: the old page's
    window is marked, and the mark gone means a new document (readyState alone may still say
    "complete" of the old one)."""
    driver.execute_script("window.__previousPage = true;")
    driver.find_element(By.CSS_SELECTOR, css).click()
    if confirm is not None:
        WebDriverWait(driver, 10).until(expected_conditions.alert_is_present())
        alert = driver.switch_to.alert
        alert.accept() if confirm else alert.dismiss()
    WebDriverWait(driver, 20).until(lambda d: d.execute_script("return window.__previousPage === undefined"))
    wait_loaded(driver)


def sign_in(driver, address, code=None):
    driver.get(BASE + "/portal/login")
    driver.find_element(By.ID, "f-email").send_keys(address)
    driver.find_element(By.ID, "f-password").send_keys(PASSWORD)
    click(driver, "#sign-in")
    if code is not None:
        check(driver.find_elements(By.ID, "f-code"), "signing in asks for the authenticator's code")
        check("authenticator app" in driver.find_element(By.ID, "second-step").text, "the second step explains itself")
        driver.find_element(By.ID, "f-password").send_keys(PASSWORD)
        driver.find_element(By.ID, "f-code").send_keys(code)
        click(driver, "#sign-in")


def sign_up_from_sign_in(driver, address):
    """From a sign-in page that was asked for on the way somewhere: create the account, follow
    the e-mail's link, and sign in — the way on leads where the person was going."""
    click(driver, "#to-sign-up")
    driver.find_element(By.ID, "f-email").send_keys(address)
    driver.find_element(By.ID, "f-password").send_keys(PASSWORD)
    click(driver, "#sign-up")
    driver.get(mail_link(address, "/portal/verify-email?"))
    click(driver, "#verify")
    click(driver, "#message + p a")
    check("/portal/login" in driver.current_url, "the way on asks to sign in")
    driver.find_element(By.ID, "f-email").send_keys(address)
    driver.find_element(By.ID, "f-password").send_keys(PASSWORD)
    click(driver, "#sign-in")


# Markup hidden in grapheme clusters: a combining mark after a quote, a prepended concatenation
# mark before a tag. Each would be one Swift Character, yet the browser reads its bare " or <.
PAYLOADS = [
    '"\u0301><meta http-equiv="refresh" content="0;url=/pwned"><x a="',
    '\u0600<img src=x onerror="window.__pwned=1">',
    '"\u0301><button formaction="/pwned" id="pwned">go</button><x a="',
]


def inert(driver, where):
    """Nothing the payloads would make exists, and nothing they would run ran."""
    wait_loaded(driver)
    made = driver.find_elements(By.CSS_SELECTOR, "meta[http-equiv], img[onerror], #pwned")
    ran = driver.execute_script("return window.__pwned !== undefined")
    moved = urllib.parse.urlparse(driver.current_url).path == "/pwned"
    check(not made and not ran and not moved, f"markup in {where} stays text ({len(made)} made, ran: {ran})")


def meter(driver, feature):
    return driver.find_element(By.CSS_SELECTOR, f"#usage-meters li[data-feature='{feature}'] .used").text


ada = browser()
bob = None
try:
    # Links that reflect what they carry (a token, where to go next) show it as text.
    for path in ["/portal/verify-email?token=", "/portal/reset-password?token=", "/portal/confirm-email?token=",
                 "/portal/login?next="]:
        for payload in PAYLOADS:
            ada.get(BASE + path + urllib.parse.quote(payload))
            inert(ada, path)

    # Sign up, verify from the e-mail's link, sign in.
    ada.get(BASE + "/portal/signup")
    ada.find_element(By.ID, "f-email").send_keys("ada@example.com")
    ada.find_element(By.ID, "f-password").send_keys(PASSWORD)
    click(ada, "#sign-up")
    check(ada.find_element(By.ID, "message").is_displayed(), "sign-up asks to check the e-mail")
    ada.get(mail_link("ada@example.com", "/portal/verify-email?token="))
    click(ada, "#verify")
    check("confirmed" in ada.find_element(By.ID, "message").text, "the e-mailed link verifies the address")
    sign_in(ada, "ada@example.com")
    check(ada.current_url.rstrip("/").endswith("/portal"), "signed in, on the plan page")
    for payload in PAYLOADS:
        ada.get(BASE + "/portal/join?workspace=" + urllib.parse.quote(payload) + "&token=x")
        inert(ada, "the join page's workspace")

    # Consume through the API; the meter reads it, with the lifetime starter pack marked.
    status, listed = api("GET", "/v1/customers?query=ada%40example.com")
    customer = listed["data"][0]["id"]
    for index in range(3):
        status, _ = api("POST", "/v1/consume",
                        {"customer": customer, "feature": "semantic_search", "idempotencyKey": f"s{index}"})
        check(status == 200, f"consume {index + 1} through the API")
    ada.get(BASE + "/portal")
    check(meter(ada, "semantic_search") == "3 / 30", f"the meter reads 3 / 30 ({meter(ada, 'semantic_search')})")
    note = ada.find_element(By.CSS_SELECTOR, "#usage-meters li[data-feature='semantic_search'] .muted").text
    check("Never resets" in note, "the starter pack's quota is marked as lifetime")
    check(not ada.find_elements(By.CSS_SELECTOR, "#usage-meters li[data-feature='history_days']"),
          "a retention in days is not drawn as a usage meter")
    ada.save_screenshot(os.path.join(SHOTS, "portal-plan-basic.png"))

    # Refused → the refusal's upgradeTier → the paywall page → a trial on the manual provider.
    status, refusal = api("POST", "/v1/consume",
                          {"customer": customer, "feature": "reformulate", "idempotencyKey": "r1"})
    check(status == 429 and refusal["upgradeTier"] == "pro", f"reformulate is refused on Basic ({refusal})")
    ada.get(BASE + "/portal/upgrade?plan=%s&feature=reformulate" % refusal["upgradeTier"])
    paywall = ada.find_element(By.ID, "paywall").text
    check("AI reformulation" in paywall and "Pro" in paywall, f"the paywall names the feature and the plan ({paywall})")
    check("does not include" in paywall, f"a feature the plan lacks is not a limit reached ({paywall})")
    check("14" in ada.find_element(By.ID, "proration").text, "Pro starts with its 14-day trial, no card")
    axe_check(ada, "/portal/upgrade")
    ada.save_screenshot(os.path.join(SHOTS, "portal-upgrade.png"))
    click(ada, "#confirm-change")
    check(ada.find_elements(By.ID, "current-plan"),
          f"the trial started (at {ada.current_url}: {ada.find_element(By.TAG_NAME, 'main').text[:300]})")
    check(ada.find_element(By.ID, "current-plan").text == "Pro", "the plan is Pro")
    check("14" in ada.find_element(By.ID, "trial-left").text, "14 trial days left")
    # The trial's e-mail: when it ends, what follows, how to cancel; in the product's colour.
    # Its HTML part, as a mail program draws it.
    started = mail_to("ada@example.com", "has started")
    text = started.get_body(preferencelist=("plain",)).get_content()
    check("runs until" in text and "9.90 EUR per month" in text and "cancel" in text,
          f"the trial's mail says its end, the price after it and how to cancel ({text})")
    html = started.get_body(preferencelist=("html",)).get_content()
    page = os.path.join(SHOTS, "mail-trial-started.html")
    open(page, "w").write(html)
    mail_window = ada.current_window_handle
    ada.switch_to.new_window("tab")
    ada.get("file://" + page)
    check("#0f766e" in html and ada.find_element(By.TAG_NAME, "p").text == "Memento Note",
          "the HTML mail is headed by the product's name in its colour")
    ada.save_screenshot(os.path.join(SHOTS, "mail-trial-started.png"))
    ada.close()
    ada.switch_to.window(mail_window)
    check(meter(ada, "reformulate") == "0 / 50", f"the new limit shows ({meter(ada, 'reformulate')})")
    now = time.gmtime()
    next_month = "%04d-%02d-01" % ((now.tm_year + 1, 1) if now.tm_mon == 12 else (now.tm_year, now.tm_mon + 1))
    resets = ada.find_element(By.CSS_SELECTOR, "#usage-meters li[data-feature='reformulate'] .muted").text
    check(f"Resets on {next_month} 00:00 UTC" == resets, f"the monthly quota resets on the 1st ({resets})")
    status, _ = api("POST", "/v1/consume", {"customer": customer, "feature": "reformulate", "idempotencyKey": "r2"})
    check(status == 200, "the API now allows what was refused")

    # A plan sold by a person is never self-served, whatever the interval and whatever the form
    # says: on the pricing page and in the portal it is "Contact sales", and a forged change is
    # refused (Enterprise was taken for free from a trial).
    ada.get(BASE + "/pricing?interval=year&lang=en")
    check(ada.find_element(By.ID, "cta-enterprise").text == "Contact sales",
          "a yearly Enterprise is Contact sales on the pricing page")
    ada.get(BASE + "/portal/upgrade?plan=enterprise&interval=year&currency=EUR")
    check(not ada.find_elements(By.ID, "confirm-change"), "the portal offers no change to Enterprise")
    token = ada.find_element(By.CSS_SELECTOR, "form[action='/portal/logout'] input[name=csrf]").get_attribute("value")
    error = forge_form(ada, "/portal/upgrade", {"plan": "enterprise", "interval": "year", "currency": "EUR",
                                                "key": "forged-enterprise", "csrf": token})
    check("cannot be chosen here" in error, f"a forged change to Enterprise is refused ({error})")
    ada.get(BASE + "/portal")
    check(ada.find_element(By.ID, "current-plan").text == "Pro", "still on the Pro trial")

    # Up again, to a plan without a trial: the trial ends and Business is invoiced now, as the
    # page says before confirming (the trial used to be carried over).
    ada.get(BASE + "/portal/upgrade?plan=business")
    shown = ada.find_element(By.ID, "proration").text
    check("trial ends now" in shown and "29.90 EUR" in shown, f"the change says the trial ends and what it costs ({shown})")
    click(ada, "#confirm-change")
    check(ada.find_element(By.ID, "current-plan").text == "Business", "the plan is Business")
    check(not ada.find_elements(By.ID, "trial-left"), "no trial carried over")
    ada.get(BASE + "/portal/invoices")
    check("29.90" in ada.find_element(By.ID, "invoices").text, "Business's first period is invoiced at once")
    ada.get(BASE + "/portal")
    # Basic's starter pack counted for life; Business's quota is monthly, counted from zero.
    check(meter(ada, "semantic_search") == "0 / 1,000", f"Business's limit ({meter(ada, 'semantic_search')})")
    ada.save_screenshot(os.path.join(SHOTS, "portal-plan.png"))

    # The pricing page in French, at a phone's width and on a desktop.
    ada.get(BASE + "/pricing?lang=fr")
    ada.save_screenshot(os.path.join(SHOTS, "pricing-fr.png"))
    # The pricing page marks the plan; its toggles show the catalog's amounts.
    ada.get(BASE + "/pricing?lang=en")
    check(ada.find_element(By.ID, "cta-business").text == "Current plan", "the pricing page marks the current plan")
    amount = lambda: ada.find_element(By.CSS_SELECTOR, "#plan-pro .amount").text
    check(amount() == "9.90 EUR", f"Pro monthly in EUR ({amount()})")
    click(ada, "#interval-year")
    check(amount() == "99.00 EUR", f"the yearly toggle shows the yearly amount ({amount()})")
    click(ada, "#currency-USD")
    check(amount() == "99.00 USD", f"the currency switch shows the USD amount ({amount()})")

    # Two-factor authentication: the QR code on the screen, read by a real decoder.
    ada.get(BASE + "/portal/security")
    click(ada, "#enable-totp")
    shown_secret = ada.find_element(By.ID, "totp-secret").text
    picture = Image.open(io.BytesIO(ada.find_element(By.CSS_SELECTOR, "#totp-qr svg.qr").screenshot_as_png))
    found = zxingcpp.read_barcodes(picture, formats=zxingcpp.BarcodeFormat.QRCode)
    check(found and found[0].text.startswith("otpauth://totp/"), "the QR code decodes to an otpauth link")
    uri = urllib.parse.urlparse(found[0].text)
    label = urllib.parse.unquote(uri.path.lstrip("/"))
    issuer = urllib.parse.parse_qs(uri.query)["issuer"][0]
    check(label == "Memento Note:ada@example.com" and issuer == "Memento Note",
          f"the authenticator shows the product's name, in the label and the issuer ({label}, {issuer})")
    secret = urllib.parse.parse_qs(uri.query)["secret"][0]
    check(secret == shown_secret, "the scanned secret is the one written out")
    ada.find_element(By.ID, "f-code").send_keys(totp(secret))
    click(ada, "#confirm-totp")
    codes = ada.find_elements(By.CSS_SELECTOR, "#recovery-codes li")
    check(len(codes) == 10, "ten recovery codes, shown once")
    ada.save_screenshot(os.path.join(SHOTS, "portal-security.png"))
    click(ada, "form[action='/portal/logout'] button")
    sign_in(ada, "ada@example.com", code=totp(secret, 1))
    check(ada.current_url.rstrip("/").endswith("/portal"), "signed in again with the password and a TOTP code")

    # An invoice: listed with its PDF for Ada.
    api("POST", f"/v1/customers/{customer}/invoice-items",
        {"description": "Setup", "unitAmount": 5000, "currency": "EUR", "idempotencyKey": "setup"})
    status, draft = api("POST", "/v1/invoices", {"customer": customer})
    check(status == 201, f"an invoice for Ada ({draft})")
    invoice = draft["id"]
    api("POST", f"/v1/invoices/{invoice}/finalize", {})
    ada.get(BASE + "/portal/invoices")
    link = ada.find_element(By.CSS_SELECTOR, f"#invoices a[href='/portal/invoices/{invoice}.pdf']")
    check(link.text.startswith("INV-"), f"the invoice is listed with its number ({link.text})")
    # The download with the browser's own cookie (the page's CSP allows no script to fetch).
    cookie = ada.get_cookie("tg_portal")["value"]
    request = urllib.request.Request(BASE + f"/portal/invoices/{invoice}.pdf", headers={"Cookie": "tg_portal=" + cookie})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
        check(response.headers["Content-Type"] == "application/pdf" and body.startswith(b"%PDF-"),
              "Ada downloads its invoice as PDF")

    # A workspace has a plan of its own: a new one is on Basic, one seat, the
    # owner's. No invite form that cannot succeed: what to buy instead, and the button to buy it.
    ada.get(BASE + "/portal/workspace")
    check("plan of its own" in ada.find_element(By.ID, "workspace-rule").text, "the page says whose plan gives seats")
    ada.find_element(By.ID, "f-name").send_keys("Team")
    click(ada, "#create-workspace")
    section = ada.find_element(By.CSS_SELECTOR, "section[data-workspace]")
    workspace = section.get_attribute("data-workspace")
    check(section.find_element(By.CSS_SELECTOR, ".workspace-plan").text == "Basic", "the workspace is on Basic")
    check(section.find_element(By.CSS_SELECTOR, ".seats").text.endswith("1 / 1"), "one seat, taken by the owner")
    check(not section.find_elements(By.CSS_SELECTOR, "button.invite"), "no invite form when every seat is taken")
    offer = section.find_element(By.CSS_SELECTOR, ".seat-offer").text
    check("Business: 11" in offer, f"it says what to buy ({offer})")
    ada.save_screenshot(os.path.join(SHOTS, "portal-workspace.png"))
    click(ada, f"#buy-seats-{workspace}")
    check("Team" in ada.find_element(By.TAG_NAME, "h1").text, "the plan change is the workspace's")
    click(ada, "#confirm-change")
    section = ada.find_element(By.CSS_SELECTOR, "section[data-workspace]")
    check(section.find_element(By.CSS_SELECTOR, ".workspace-plan").text == "Business", "the workspace is on Business")
    check(section.find_element(By.CSS_SELECTOR, ".seats").text.endswith("1 / 11"), "the owner and ten collaborators")
    section.find_element(By.CSS_SELECTOR, "input[name=email]").send_keys("bob@example.com")
    Select(section.find_element(By.CSS_SELECTOR, "select[name=role]")).select_by_value("VIEWER")
    click(ada, "section[data-workspace] button.invite")
    check(ada.find_elements(By.ID, "notice"), f"the invitation is sent ({ada.find_element(By.TAG_NAME, 'main').text[:300]})")
    section = ada.find_element(By.CSS_SELECTOR, "section[data-workspace]")
    check("2 / 11" in section.find_element(By.CSS_SELECTOR, ".seats").text, "the pending invitation holds a seat")
    check("bob@example.com" in section.find_element(By.ID, f"pending-{workspace}").text, "and is listed")

    # Bob has no account: the invitation's link leads through sign-up, the e-mail's link and
    # sign-in back to the invitation.
    bob = browser()
    bob.get(mail_link("bob@example.com", "/portal/join?"))
    check("/portal/login" in bob.current_url, "the invitation asks to sign in")
    sign_up_from_sign_in(bob, "bob@example.com")
    check("/portal/join" in bob.current_url, f"signed in, Bob is back at the invitation ({bob.current_url})")
    offer = bob.find_element(By.ID, "invitation").text
    check(offer == "ada@example.com invites you to Team as Viewer.", f"the join page names who, where, as what ({offer})")
    click(bob, "#join")
    check("/portal/workspace" in bob.current_url and "Team" in bob.page_source, "Bob joined the workspace")
    check("Viewer" in bob.find_element(By.CSS_SELECTOR, "section[data-workspace]").text, "as a viewer")
    check(not bob.find_elements(By.CSS_SELECTOR, "button.invite"), "a viewer sees no invite button")
    team = bob.find_element(By.CSS_SELECTOR, "section[data-workspace] table.members").text
    check("ada@example.com" in team and not bob.find_elements(By.CSS_SELECTOR, "section[data-workspace] table.members form"),
          "a viewer sees the members, read only")
    token = bob.find_element(By.CSS_SELECTOR, "form[action='/portal/logout'] input[name=csrf]").get_attribute("value")
    error = forge_form(bob, f"/portal/workspaces/{workspace}/invite",
                       {"email": "eve@example.com", "role": "VIEWER", "csrf": token})
    check("VIEWER" in error, f"a viewer's forged invitation is refused, even with a valid token ({error})")
    ada.get(BASE + "/portal/workspace")
    check("eve@example.com" not in ada.page_source and "bob@example.com" in ada.page_source,
          "the owner sees Bob, and no invitation went out for Eve")

    # A workspace named with markup shows its name as text, on the page and in the invitation.
    ada.get(BASE + "/portal/workspace")
    ada.find_element(By.ID, "f-name").send_keys(PAYLOADS[1])
    click(ada, "#create-workspace")
    inert(ada, "a workspace's name")
    check(PAYLOADS[1] in ada.find_element(By.TAG_NAME, "main").text, "the workspace's name reads as typed")

    # Bob cannot open Ada's pages: her invoice is not found for him, /portal is his own.
    bob.get(BASE + f"/portal/invoices/{invoice}.pdf")
    check(bob.find_elements(By.CSS_SELECTOR, "p.error"), "Ada's invoice is not found for Bob")
    bob.get(BASE + "/portal")
    check(bob.find_element(By.ID, "signed-in-as").text == "bob@example.com"
          and bob.find_element(By.ID, "current-plan").text == "Basic", "Bob's portal shows Bob's plan")

    # From the pricing page, signed out: "Start the trial" → sign-in → "Create an account" →
    # the e-mail's link → sign-in → the trial's confirmation, where the person was going
    # (the intent was lost on the way).
    carol = browser()
    try:
        carol.get(BASE + "/pricing?lang=en")
        click(carol, "#cta-pro")
        check("/portal/login" in carol.current_url, f"the trial asks to sign in first ({carol.current_url})")
        sign_up_from_sign_in(carol, "carol@example.com")
        check("/portal/upgrade" in carol.current_url and carol.find_elements(By.ID, "confirm-change"),
              f"signed in, the trial's confirmation is where Carol lands ({carol.current_url})")
        carol.save_screenshot(os.path.join(SHOTS, "portal-trial-offer.png"))
        after = carol.find_element(By.ID, "after-trial").text
        check("9.90 EUR" in after and "Basic" in after, f"the offer says the price after the trial and what then ({after})")
        click(carol, "#confirm-change")
        check(carol.find_element(By.ID, "current-plan").text == "Pro", "Carol is on the Pro trial")
    finally:
        carol.quit()

    # Bob starts a trial and cancels it: it runs to the trial's end, as the words say (it used to
    # end at once).
    bob.get(BASE + "/portal/upgrade?plan=pro")
    click(bob, "#confirm-change")
    check(bob.find_element(By.ID, "current-plan").text == "Pro", "Bob is on a Pro trial")
    click(bob, "#cancel", confirm=True)
    check(bob.find_element(By.ID, "current-plan").text == "Pro", "a canceled trial keeps its plan until it ends")
    check(bob.find_elements(By.ID, "resume") and "14" in bob.find_element(By.ID, "trial-left").text,
          "the trial runs on, and the cancellation can be taken back")
    click(bob, "#resume")
    check(bob.find_elements(By.ID, "cancel"), "taken back: the trial goes on as before")

    # Every page in English and French, checked by axe; and at a phone's width.
    pages = ["", "/upgrade?plan=pro", "/invoices", "/workspace", "/security"]
    for language in ["en", "fr"]:
        for page in pages:
            ada.get(BASE + "/portal" + page + ("&" if "?" in page else "?") + "lang=" + language)
            check(ada.find_element(By.TAG_NAME, "html").get_attribute("lang") == language,
                  f"{page or '/'} is in {language}")
            axe_check(ada, f"/portal{page} ({language})")
    ada.get(BASE + "/portal?lang=en")
    ada.set_window_size(390, 844)
    for page in pages:
        ada.get(BASE + "/portal" + page)
        overflow = ada.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        check(overflow <= 1, f"/portal{page} fits a phone's width (overflow {overflow}px)")
    # The pages before a session, signed out.
    click(bob, "form[action='/portal/logout'] button")
    check("/portal/login" in bob.current_url, "signing out leads to the sign-in page")
    for page in ["/login", "/signup", "/reset-password"]:
        bob.get(BASE + "/portal" + page)
        axe_check(bob, f"/portal{page}")
finally:
    ada.quit()
    if bob is not None:
        bob.quit()
print("all portal checks passed", flush=True)
