"""The operator console in a real browser (headless Chromium driven by chromedriver).

Run by ConsoleBrowserTests with a server it started and data it made through the API:
  console_browser.py CONFIG.json
CONFIG: base, ownerSetup, viewerSetup, key (admin secret key), customer, feature, used, limit,
newPlan, evilCustomer, evilName, screenshots (a directory).
Prints one line per check; exits 1 at the first failed one, saying which.
"""

import io
import json
import os
import sys
import urllib.parse
import urllib.request

import zxingcpp
from PIL import Image

from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from browser_support import axe_check, browser, check, forge_form, totp

config = json.load(open(sys.argv[1]))
BASE = config["base"]
SHOTS = config["screenshots"]
os.makedirs(SHOTS, exist_ok=True)


def api(method, path, key, body=None):
    request = urllib.request.Request(BASE + path, method=method, headers={"Authorization": "Bearer " + key})
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def read(driver, find):
    """What `find(driver)` reads, read again if the page replaced the element meanwhile."""
    for attempt in range(5):
        try:
            return find(driver)
        except StaleElementReferenceException:
            if attempt == 4:
                raise
            WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")


def submit(driver, form_css, confirm=True):
    """Submits a form; accepts (or dismisses) the confirmation console.js asks for. Waits for the
    next page: the old one gone (its document was "complete" already), the new one loaded."""
    before = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, form_css + " button[type=submit]").click()
    if confirm is not None:
        WebDriverWait(driver, 10).until(expected_conditions.alert_is_present())
        alert = driver.switch_to.alert
        alert.accept() if confirm else alert.dismiss()
    if confirm is not False:
        WebDriverWait(driver, 20).until(expected_conditions.staleness_of(before))
    WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")


def set_up(driver, link, password):
    """Follows a setup link as a person with a phone would: the QR code on the screen, read by a
    real decoder, gives the secret; then the password and the app's code."""
    driver.get(link)
    shown = driver.find_element(By.ID, "totp-secret").text
    uri = driver.find_element(By.ID, "totp-uri").get_attribute("href")
    picture = Image.open(io.BytesIO(driver.find_element(By.CSS_SELECTOR, "svg.qr").screenshot_as_png))
    found = zxingcpp.read_barcodes(picture, formats=zxingcpp.BarcodeFormat.QRCode)
    check(found and found[0].text == uri, "the QR code on the setup page decodes to its otpauth link")
    query = urllib.parse.parse_qs(urllib.parse.urlparse(found[0].text).query)
    secret = query["secret"][0]
    check(secret == shown and uri.startswith("otpauth://totp/"), "the scanned secret is the one written out")
    driver.find_element(By.ID, "f-password").send_keys(password)
    code = totp(secret)
    driver.find_element(By.ID, "f-code").send_keys(code)
    submit(driver, "form[action='/console/setup']", confirm=None)
    return secret, code


password = "correct horse battery staple"
owner = browser()
viewer = None
try:
    # The owner: setup link from the CLI, TOTP enrolment, then the overview.
    secret, setup_code = set_up(owner, config["ownerSetup"], password)
    check(owner.current_url.rstrip("/").endswith("/console"), "setup signs the owner in and opens the overview")
    mrr = owner.find_element(By.ID, "tile-mrr").text
    check(config["mrr"] in mrr, f"the overview shows the MRR of the paying customers ({mrr})")
    trialing = owner.find_element(By.ID, "tile-trialing").text
    check(trialing.endswith("1"), f"the overview counts the trial ({trialing})")

    # Sign out, and in again with e-mail, password and a fresh code (the next step: the
    # setup's code is spent and may not be replayed).
    owner.find_element(By.CSS_SELECTOR, "form[action='/console/logout'] button").click()
    WebDriverWait(owner, 10).until(lambda d: "/console/login" in d.current_url)
    owner.find_element(By.ID, "f-email").send_keys(config["ownerEmail"])
    owner.find_element(By.ID, "f-password").send_keys(password)
    owner.find_element(By.ID, "f-code").send_keys(setup_code)
    submit(owner, "form[action='/console/login']", confirm=None)
    check("/console/login" in owner.current_url and owner.find_elements(By.CSS_SELECTOR, "p.error"),
          "a replayed code is refused at sign-in")
    owner.find_element(By.ID, "f-password").send_keys(password)
    owner.find_element(By.ID, "f-code").send_keys(totp(secret, 1))
    submit(owner, "form[action='/console/login']", confirm=None)
    check(owner.current_url.rstrip("/").endswith("/console"), "sign-in with password and TOTP")

    # Find the customer who consumed through the API, and read their meter.
    owner.get(BASE + "/console/customers")
    owner.find_element(By.ID, "f-query").send_keys(config["customer"])
    owner.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    link = WebDriverWait(owner, 10).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#customers a[href='/console/customers/%s']" % config["customer"]))
    link.click()
    meter = owner.find_element(By.CSS_SELECTOR, "#usage-meters li[data-feature='%s'] .used" % config["feature"])
    check(meter.text == "%d / %d" % (config["used"], config["limit"]),
          f"the customer's meter reads {config['used']} / {config['limit']} (read: {meter.text})")
    progress = owner.find_element(By.CSS_SELECTOR, "#usage-meters li[data-feature='%s'] progress" % config["feature"])
    check(progress.get_attribute("value") == str(config["used"]), "the meter's bar has the used amount")
    owner.save_screenshot(os.path.join(SHOTS, "console-customer.png"))

    # Change the plan from the console; the API answers with the new plan.
    Select(owner.find_element(By.ID, "f-new-plan")).select_by_value(config["newPlan"])
    submit(owner, "form[action$='/plan']", confirm=False)
    status, body = api("GET", "/v1/customers/" + config["customer"], config["key"])
    check(status == 200 and body["plan"] != config["newPlan"], "dismissing the confirmation changes nothing")
    Select(owner.find_element(By.ID, "f-new-plan")).select_by_value(config["newPlan"])
    submit(owner, "form[action$='/plan']")
    check(owner.find_element(By.CSS_SELECTOR, "p.notice").is_displayed(), "the console says the plan changed")
    status, body = api("GET", "/v1/customers/" + config["customer"], config["key"])
    check(status == 200 and body["plan"] == config["newPlan"], "the API answers with the plan set in the console")

    # Grant credits; the ledger shows the line, the API the balance.
    owner.find_element(By.ID, "f-amount").send_keys("25")
    submit(owner, "form[action$='/credits']")
    ledger = owner.find_element(By.ID, "ledger").text
    check("+25" in ledger and "Grant" in ledger, "the ledger shows the granted credits, its reason in words")
    status, body = api("GET", "/v1/customers/%s/credits" % config["customer"], config["key"])
    check(status == 200 and any(b["balance"] >= 25 for b in body["balances"]), "the API counts the granted credits")

    # The audit trail shows the plan change made above, by this operator, with before and after.
    owner.get(BASE + "/console/audit?target=customer:" + config["customer"])
    trail = WebDriverWait(owner, 10).until(
        lambda d: d.find_element(By.ID, "audit").text if "/console/audit" in d.current_url else False)
    check("customer.plan_changed" in trail and "credits.granted" in trail and "operator:" in trail,
          "the audit trail lists the console's plan change and grant")
    check(config["newPlan"] in trail, "the plan change's entry shows the new plan")
    check(config["ownerEmail"] in trail, "the operator is named by their e-mail, not only an id")

    # Subscriptions, invoices and webhook endpoints made through the API have a target and the
    # state after; the key is named.
    status, _ = api("POST", "/v1/webhook-endpoints", config["key"], {"url": "https://93.184.215.14/tollgate", "eventTypes": ["credits.low"]})
    check(status == 201, "a webhook endpoint through the API")
    status, draft = api("POST", "/v1/customers/payer0/invoice-items", config["key"],
                        {"description": "Setup", "unitAmount": 5000, "currency": "EUR", "idempotencyKey": "audit"})
    status, draft = api("POST", "/v1/invoices", config["key"], {"customer": "payer0"})
    check(status == 201, f"an invoice through the API ({draft})")
    for action, target in [("subscription.created", "customer:payer"), ("subscription.trial_started", "customer:trier"),
                           ("invoice.created", "invoice:" + draft["id"]), ("webhook_endpoint.created", "webhook_endpoint:")]:
        owner.get(BASE + "/console/audit?action=" + action)
        texts = read(owner, lambda d: [cell.text for cell in d.find_elements(By.CSS_SELECTOR, "#audit tbody tr:first-child td")])
        actor = read(owner, lambda d: d.find_element(By.CSS_SELECTOR, "#audit tbody tr:first-child .actor-name").text)
        check(target in texts[3], f"{action} names its target ({texts[3]})")
        check(texts[5].strip() != "", f"{action} shows the state after ({texts[5][:80]})")
        check(actor == "Product backend", f"{action}'s actor is the key's name ({texts[1]})")
    owner.save_screenshot(os.path.join(SHOTS, "console-audit.png"))

    # A customer's page: the subscription's price and interval, the billing details, and the
    # invoice's due date.
    api("PUT", "/v1/customers/payer0/billing-details", config["key"],
        {"legalName": "Payer Zero GmbH", "addressLines": ["Straße 1"], "postalCode": "10115", "city": "Berlin",
         "country": "DE", "vatNumber": "DE136695976"})
    owner.get(BASE + "/console/customers/payer2")
    subscriptions = read(owner, lambda d: d.find_element(By.ID, "subscriptions").text)
    check("29.90 EUR / month" in subscriptions, f"the subscription's price and interval ({subscriptions[:200]})")
    owner.get(BASE + "/console/customers/payer0")
    details = read(owner, lambda d: d.find_element(By.ID, "billing-details").text)
    check("Payer Zero GmbH" in details and "DE136695976" in details, f"the billing details and VAT number ({details})")
    invoices = read(owner, lambda d: d.find_element(By.ID, "invoices").text)
    check("Due" in invoices, f"invoices show their due date ({invoices[:200]})")

    # The draft made above is finalized, marked paid and credited from the page, each confirmed
    # and followed by a notice; the API sees each step.
    base = "form[action='/console/invoices/%s" % draft["id"]
    submit(owner, base + "/finalize']")
    check("finalized" in read(owner, lambda d: d.find_element(By.ID, "notice").text), "the invoice is finalized")
    check(api("GET", "/v1/invoices/" + draft["id"], config["key"])[1]["status"] == "open", "the API: open")
    submit(owner, base + "/pay']")
    check("receipt" in read(owner, lambda d: d.find_element(By.ID, "notice").text), "marked paid: a receipt is sent")
    check(api("GET", "/v1/invoices/" + draft["id"], config["key"])[1]["status"] == "paid", "the API: paid")
    Select(owner.find_element(By.CSS_SELECTOR, base + "/credit-notes'] select")).select_by_value("product_unsatisfactory")
    submit(owner, base + "/credit-notes']")
    check("credit note" in read(owner, lambda d: d.find_element(By.ID, "notice").text), "the credit note is issued")
    status, notes = api("GET", "/v1/invoices/%s/credit-notes" % draft["id"], config["key"])
    check(status == 200 and notes["creditNotes"][0]["reason"] == "product_unsatisfactory", f"the API: its note ({notes})")
    owner.execute_script("document.getElementById('h-invoices').scrollIntoView()")
    owner.save_screenshot(os.path.join(SHOTS, "console-customer-invoices.png"))

    # Webhook endpoints on their own page: added (the secret shown once), disabled, deleted; the
    # deliveries page filters by endpoint and names it by its URL.
    owner.get(BASE + "/console/webhooks")
    owner.find_element(By.ID, "f-url").send_keys("https://93.184.215.14/console-hook")
    owner.find_element(By.ID, "type-invoice.paid").click()
    submit(owner, "form[action='/console/webhooks']", confirm=None)
    secret = read(owner, lambda d: d.find_element(By.ID, "new-secret").text)
    check(secret.startswith("whsec_"), "the new endpoint's secret is shown once")
    status, listed = api("GET", "/v1/webhook-endpoints", config["key"])
    added = [e for e in listed["data"] if e["url"].endswith("/console-hook")]
    check(len(added) == 1 and added[0]["eventTypes"] == ["invoice.paid"], f"the API lists the endpoint ({listed})")
    owner.get(BASE + "/console/webhooks")
    row = "#webhook-endpoints tr[data-id='%s']" % added[0]["id"]
    submit(owner, row + " form[action$='/disable']", confirm=None)
    check("Disabled by an operator" in read(owner, lambda d: d.find_element(By.CSS_SELECTOR, row).text),
          "the endpoint reads as disabled")
    check(api("GET", "/v1/webhook-endpoints/" + added[0]["id"], config["key"])[1]["enabled"] is False, "the API: disabled")
    owner.save_screenshot(os.path.join(SHOTS, "console-webhooks.png"))
    submit(owner, row + " form[action$='/delete']")
    check(api("GET", "/v1/webhook-endpoints/" + added[0]["id"], config["key"])[0] == 404, "the endpoint is deleted")
    owner.get(BASE + "/console/deliveries")
    Select(owner.find_element(By.ID, "f-channel")).select_by_value("email")
    submit(owner, "form.filters", confirm=None)
    rows = read(owner, lambda d: [r.text for r in d.find_elements(By.CSS_SELECTOR, "#deliveries tbody tr")])
    check(rows and all("E-mail" in r for r in rows), f"the deliveries filtered to e-mail ({len(rows)} rows)")
    check("channel=email" in owner.current_url, "the filter is in the address, to share or reload")
    owner.save_screenshot(os.path.join(SHOTS, "console-deliveries.png"))

    # A forged post without the CSRF token is refused, and changes nothing.
    _, before = api("GET", "/v1/customers/%s/credits" % config["customer"], config["key"])
    error = forge_form(owner, "/console/customers/%s/credits" % config["customer"], {"amount": "5", "key": "forged1"})
    check("CSRF" in error, f"a form post without the CSRF token is refused ({error})")
    _, after = api("GET", "/v1/customers/%s/credits" % config["customer"], config["key"])
    check(before == after, "the refused post granted nothing")

    # A malicious name is text.
    owner.get(BASE + "/console/customers/" + config["evilCustomer"])
    try:
        owner.switch_to.alert
        check(False, "no script ran from the customer's name")
    except NoAlertPresentException:
        pass
    check(owner.find_element(By.TAG_NAME, "h1").text == config["evilName"], "a name with markup shows as text")
    check(not owner.find_elements(By.CSS_SELECTOR, "main img"), "no element was made from the name")
    owner.get(BASE + "/console/customers")
    check(config["evilName"] in owner.find_element(By.TAG_NAME, "main").text
          and not owner.find_elements(By.CSS_SELECTOR, "main img"), "the name is text in the customer list too")
    owner.get(BASE + "/console/customers?query=" + urllib.parse.quote(config["evilName"]))
    search = owner.find_element(By.CSS_SELECTOR, "input[name=query]").get_attribute("value")
    check(search == config["evilName"] and not owner.find_elements(By.CSS_SELECTOR, "main img"),
          "a search for markup stays inside the search field")

    # An API key made in the console works once, shown once.
    owner.get(BASE + "/console/api-keys")
    owner.find_element(By.ID, "f-name").send_keys("browser test")
    owner.find_element(By.ID, "scope-entitlements:read").click()
    submit(owner, "form[action='/console/api-keys']", confirm=None)
    new_key = owner.find_element(By.ID, "new-secret").text
    status, _ = api("GET", "/v1/customers/" + config["customer"], new_key)
    check(status == 200, "the key created in the console calls the API")
    owner.get(BASE + "/console/api-keys")
    check(new_key not in owner.page_source, "the secret is not shown again")

    # Every page, in English and French, checked by axe and photographed; and at a phone's width.
    pages = ["", "/customers", "/customers/" + config["customer"], "/usage", "/catalog", "/deliveries", "/webhooks",
             "/audit", "/api-keys", "/operators"]
    for language in ["en", "fr"]:
        for page in pages:
            owner.get(BASE + "/console" + page + "?lang=" + language)
            check(owner.find_element(By.TAG_NAME, "html").get_attribute("lang") == language,
                  f"{page or '/'} is in {language}")
            axe_check(owner, f"{page or '/'} ({language})")
            name = page.strip("/").replace("/", "-") or "overview"
            owner.save_screenshot(os.path.join(SHOTS, f"console-{name}-{language}.png"))
    owner.get(BASE + "/console?lang=en")
    # At 1280 px the header is one line: the brand, the sections and who is signed in.
    tops = owner.execute_script(
        "return ['.brand', 'nav', '.who'].map(s => document.querySelector('header.top ' + s).getBoundingClientRect().top)")
    check(max(tops) - min(tops) < 10, f"the console's header does not wrap at 1280 px ({tops})")
    ticks = owner.execute_script("return [...document.querySelectorAll('svg.chart')[0].querySelectorAll('text.tick')].map(t => t.textContent)")
    check("60.00 EUR" in ticks and "20.00 EUR" in ticks, f"the MRR chart's axis has round ticks ({ticks})")
    owner.save_screenshot(os.path.join(SHOTS, "console-overview.png"))
    owner.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    owner.get(BASE + "/console")
    owner.save_screenshot(os.path.join(SHOTS, "console-overview-dark.png"))
    axe_check(owner, "the overview in dark colours")
    owner.set_window_size(390, 844)
    for page in pages:
        owner.get(BASE + "/console" + page)
        overflow = owner.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        check(overflow <= 1, f"{page or '/'} fits a phone's width (overflow {overflow}px)")
    owner.save_screenshot(os.path.join(SHOTS, "console-customer-phone.png"))

    # The public pricing page: the toggles change the prices to the catalog's amounts.
    owner.set_window_size(1280, 900)
    owner.get(BASE + "/pricing?lang=en")
    amount = lambda: owner.find_element(By.CSS_SELECTOR, "#plan-pro .amount").text
    check(amount() == "9.90 EUR", f"the pricing page shows Pro monthly in EUR ({amount()})")
    owner.find_element(By.ID, "interval-year").click()
    check(amount() == "99.00 EUR" and "16 %" in owner.find_element(By.CSS_SELECTOR, "#plan-pro .saving").text,
          f"yearly: the catalog's yearly amount and its saving ({amount()})")
    owner.find_element(By.ID, "currency-USD").click()
    check(amount() == "99.00 USD", f"the currency switch shows the USD amount ({amount()})")
    axe_check(owner, "/pricing")
    owner.save_screenshot(os.path.join(SHOTS, "pricing.png"))

    # A viewer, in a second browser: reads, sees no action, and a forged action is refused.
    viewer = browser()
    set_up(viewer, config["viewerSetup"], "another long passphrase 42")
    check(viewer.current_url.rstrip("/").endswith("/console"),
          f"the viewer is signed in after setup (at {viewer.current_url}: {viewer.find_element(By.TAG_NAME, 'main').text[:200]})")
    viewer.get(BASE + "/console/customers/" + config["customer"])
    check(viewer.find_element(By.ID, "customer-plan").text, "the viewer reads the customer's page")
    check(not viewer.find_elements(By.CSS_SELECTOR, "form[action$='/plan']"), "a viewer sees no plan change form")
    token = viewer.find_element(By.CSS_SELECTOR, "form[action='/console/logout'] input[name=csrf]").get_attribute("value")
    error = forge_form(
        viewer, "/console/customers/%s/plan" % config["customer"], {"plan": "basic", "csrf": token})
    check("viewer may not" in error, f"a viewer's plan change is refused even with a valid token ({error})")
    status, body = api("GET", "/v1/customers/" + config["customer"], config["key"])
    check(body["plan"] == config["newPlan"], "the viewer's refused change left the plan as it was")
    viewer.get(BASE + "/console/operators")
    check(not viewer.find_elements(By.CSS_SELECTOR, "form[action='/console/operators']"), "a viewer cannot invite operators")
finally:
    owner.quit()
    if viewer is not None:
        viewer.quit()
print("all console checks passed", flush=True)
