"""An independent computation of Tollgate's analytics, for the oracle test.

It reads the catalog (prices, quotas) and the record a generator kept of what it did to Tollgate —
sign-ups, manual subscriptions, trials, plan changes and cancellations, the states it sent as
Stripe, the scheduler's ticks, and consumes — and computes, from that alone and from the
definitions in docs/metrics.md, every figure of GET /v1/analytics/revenue per calendar month and
currency, of /v1/analytics/customers per month, of /v1/analytics/usage and /adoption for each
month, of /activity for every day, and of /retention. It
shares no code with Tollgate: subscriptions, periods, MRR, movements, plans, quotas, refusals and
the reports are worked out here again.

    python revenue_reference.py CATALOG.yaml RECORD.json FROM TO   (FROM, TO: 2025-01-01)

prints {"revenue": {"EUR": [month, ...], "USD": [...]}, "customers": [month, ...],
"usage": [[row, ...] per month], "activity": [[day, ...] per year], "adoption": [answer per month],
"retention": [cohort, ...]} as JSON.
"""

import calendar
import datetime as dt
import json
import sys

import yaml

UTC = dt.timezone.utc
GRACE = dt.timedelta(days=7)  # SubscriptionPolicy's grace period for a failed payment


def parse_time(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def add_months(moment, months):
    """A calendar month (or year) later, the day clamped to the month's length (Jan 31 -> Feb 28)."""
    month = moment.month - 1 + months
    year = moment.year + month // 12
    month = month % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def period_end(start, interval):
    return add_months(start, 1 if interval == "month" else 12)


class Catalog:
    def __init__(self, path):
        with open(path) as handle:
            data = yaml.safe_load(handle)
        self.plans = {plan["id"]: plan for plan in data["plans"]}
        self.add_ons = {add_on["id"]: add_on for add_on in data.get("addOns", [])}

    def price(self, prices, interval, currency):
        for price in prices or []:
            if price["interval"] == interval and price["currency"] == currency:
                return price
        return None

    def period_amount(self, sub):
        """What one period of the subscription is invoiced, taxes and one-off charges aside."""
        total = 0
        price = self.price(self.plans[sub["plan"]].get("prices"), sub["interval"], sub["currency"])
        if price is not None:
            total += price["amount"]
            if "perSeatAmount" in price:
                total += price["perSeatAmount"] * max(price.get("minimumSeats", 1), sub.get("seats") or 0)
        for add_on, quantity in sorted(sub.get("addOns", {}).items()):
            add_on_price = self.price(self.add_ons[add_on].get("prices"), sub["interval"], sub["currency"])
            if add_on_price is not None and quantity > 0:
                total += add_on_price["amount"] * quantity
        return total

    def mrr(self, sub):
        if sub["status"] not in ("active", "past_due"):
            return 0
        amount = self.period_amount(sub)
        if sub["interval"] == "year":
            return (amount * 2 + 12) // 24  # amount / 12, halves up (amounts are positive)
        return amount


LIMIT_REASONS = ("USER_QUOTA_EXHAUSTED", "WORKSPACE_QUOTA_EXHAUSTED")
REASONS = ("TIER_LIMITED", "USER_QUOTA_EXHAUSTED", "WORKSPACE_QUOTA_EXHAUSTED", "INSUFFICIENT_CREDITS")


class Simulation:
    def __init__(self, catalog, default_plan):
        self.catalog = catalog
        self.default_plan = default_plan
        self.subs = {}  # id -> subscription
        self.paid_in = {}  # customer -> currencies it ever paid in
        self.movements = []  # (time, currency, customer, kind, amount)
        self.trials = []  # dicts: currency, started, ended, converted
        self.states = {}  # customer -> [(time, plan, status)], its plan and status from each time on
        self.used = {}  # (customer, feature, month) -> units counted
        self.facts = []  # (time, customer, feature, plan, outcome, units, upgrade tier)
        self.tracked = []  # (time, customer, event name)

    def order(self, plan):
        return self.catalog.plans[plan]["order"]

    def entitled_plan(self, customer, now):
        """The highest plan any live subscription gives (past due: within the grace period)."""
        plans = [s["plan"] for s in self.subs.values() if s["customer"] == customer and (
            s["status"] in ("trialing", "active")
            or (s["status"] == "past_due" and now < s["pastDueSince"] + GRACE))]
        return max(plans, key=self.order) if plans else self.default_plan

    def status(self, customer):
        statuses = {s["status"] for s in self.subs.values() if s["customer"] == customer}
        for status in ("active", "past_due", "trialing"):
            if status in statuses:
                return status
        return "canceled" if statuses else "free"

    def record_state(self, when, customer):
        state = (self.entitled_plan(customer, when), self.status(customer))
        history = self.states.setdefault(customer, [])
        if not history or history[-1][1:] != state:
            history.append((when,) + state)

    def quota(self, plan, feature):
        """(included, limit or None for unlimited): a plain number is per calendar month."""
        value = self.catalog.plans[plan].get("features", {}).get(feature)
        if value is None:
            return False, 0
        if value == "unlimited":
            return True, None
        if isinstance(value, dict):
            return True, value["limit"]
        return True, value

    def upgrade_tier(self, plan, feature, amount):
        """The cheapest higher plan whose quota admits the amount and is larger than this one's."""
        included, current = self.quota(plan, feature)
        current = current if included else 0
        for candidate in sorted(self.catalog.plans.values(), key=lambda p: p["order"]):
            if candidate["order"] <= self.order(plan):
                continue
            offered_included, offered = self.quota(candidate["id"], feature)
            if not offered_included:
                continue
            if offered is None:
                return candidate["id"]
            if offered >= amount and (current is None or offered > current):
                return candidate["id"]
        return None

    def consume(self, when, customer, feature, amount):
        # The meter decides under the customer's stored plan: the one its last change recorded.
        plan = self.states[customer][-1][1]
        included, limit = self.quota(plan, feature)
        key = (customer, feature, (when.year, when.month))
        used = self.used.get(key, 0)
        if not included:
            outcome = "TIER_LIMITED"
        elif limit is not None and used + amount > limit:
            outcome = "USER_QUOTA_EXHAUSTED"
        else:
            outcome = "allowed"
            self.used[key] = used + amount
        tier = None if outcome == "allowed" else self.upgrade_tier(plan, feature, amount)
        self.facts.append((when, customer, feature, plan, outcome, amount if outcome == "allowed" else 0, tier))

    def customer_mrr(self, customer):
        total = {}
        for sub in self.subs.values():
            if sub["customer"] == customer:
                amount = self.catalog.mrr(sub)
                if amount:
                    total[sub["currency"]] = total.get(sub["currency"], 0) + amount
        return total

    def change(self, when, customer, sub_id, new_sub):
        """Replaces a subscription, recording the trial and the MRR movements the change makes."""
        before = self.customer_mrr(customer)
        old = self.subs.get(sub_id)
        old_status = old["status"] if old else None
        self.subs[sub_id] = new_sub
        if new_sub["status"] == "trialing" and old_status != "trialing":
            self.trials.append({"id": sub_id, "currency": new_sub["currency"], "started": when, "ended": None,
                                "converted": False})
        elif old_status == "trialing" and new_sub["status"] != "trialing":
            for trial in self.trials:
                if trial["id"] == sub_id and trial["ended"] is None:
                    trial["ended"] = when
                    trial["converted"] = new_sub["status"] in ("active", "past_due")
        after = self.customer_mrr(customer)
        self.record_state(when, customer)
        paid = self.paid_in.setdefault(customer, set())
        for currency in sorted(set(before) | set(after)):
            was, now = before.get(currency, 0), after.get(currency, 0)
            if was == now:
                continue
            if was == 0:
                kind = "reactivation" if currency in paid else "new"
            elif now == 0:
                kind = "churn"
            else:
                kind = "expansion" if now > was else "contraction"
            self.movements.append((when, currency, customer, kind, now - was))
            if now > 0:
                paid.add(currency)

    def live(self, customer):
        return [s for s in self.subs.values()
                if s["customer"] == customer and s["status"] in ("trialing", "active", "past_due")]

    def apply(self, event):
        when = parse_time(event["at"])
        op = event["op"]
        if op == "manual_subscribe":
            sub = {"customer": event["customer"], "provider": "manual", "plan": event["plan"],
                   "interval": event["interval"], "currency": event["currency"], "seats": event.get("seats"),
                   "status": "active", "start": when, "end": period_end(when, event["interval"]),
                   "cancelAtPeriodEnd": False, "pending": None, "addOns": {}}
            self.change(when, event["customer"], event["id"], sub)
        elif op == "manual_trial":
            days = self.catalog.plans[event["plan"]]["trial"]["days"]
            sub = {"customer": event["customer"], "provider": "manual", "plan": event["plan"],
                   "interval": event["interval"], "currency": event["currency"], "seats": None,
                   "status": "trialing", "trialEnd": when + dt.timedelta(days=days), "start": when,
                   "end": when + dt.timedelta(days=days), "cancelAtPeriodEnd": False, "pending": None, "addOns": {}}
            self.change(when, event["customer"], event["id"], sub)
        elif op == "manual_change":
            sub = dict(self.subs[event["id"]])
            order = lambda plan: self.catalog.plans[plan]["order"]
            if order(event["plan"]) < order(sub["plan"]):
                sub["pending"] = event["plan"]  # a downgrade waits for the period's end
            else:
                sub["plan"] = event["plan"]
            self.change(when, sub["customer"], event["id"], sub)
        elif op == "manual_cancel":
            sub = dict(self.subs[event["id"]])
            if event["atPeriodEnd"]:
                sub["cancelAtPeriodEnd"] = True
            else:
                sub["status"] = "canceled"
            self.change(when, sub["customer"], event["id"], sub)
        elif op == "stripe":
            old = self.subs.get(event["id"])
            status = {"past_due": "past_due", "unpaid": "past_due", "trialing": "trialing", "active": "active",
                      "canceled": "canceled"}[event["status"]]
            sub = {"customer": event["customer"], "provider": "stripe", "plan": event["plan"],
                   "interval": event["interval"], "currency": event["currency"], "seats": event.get("seats"),
                   "status": status, "addOns": event.get("addOns", {}),
                   "pastDueSince": ((old or {}).get("pastDueSince") or when) if status == "past_due" else None}
            self.change(when, event["customer"], event["id"], sub)
        elif op == "tick":
            for sub_id in sorted(self.subs):
                sub = self.subs[sub_id]
                moved = self.advance(dict(sub), when)
                if moved != sub:
                    self.change(when, sub["customer"], sub_id, moved)
        elif op == "signup":
            self.states[event["customer"]] = [(when, self.default_plan, "free")]
        elif op == "consume":
            for amount in event["amounts"]:
                self.consume(when, event["customer"], event["feature"], amount)
        elif op == "track":
            for tracked in event["events"]:
                self.tracked.append((parse_time(tracked["at"]), event["customer"], tracked["name"]))
        else:
            raise ValueError(f"unknown op {op}")

    def advance(self, sub, now):
        """Time passing, as the scheduler moves subscriptions at its ticks."""
        if sub["status"] == "past_due" and now >= sub["pastDueSince"] + GRACE:
            sub["status"] = "inactive"
            return sub
        if sub["provider"] != "manual":
            return sub
        if sub["status"] == "trialing":
            if now >= sub["trialEnd"]:
                # Canceled during the trial: it ends with it; else a manual trial has no card: back to free.
                sub["status"] = "canceled" if sub["cancelAtPeriodEnd"] else "inactive"
            return sub
        if sub["status"] == "active":
            while now >= sub["end"]:
                if sub["cancelAtPeriodEnd"]:
                    sub["status"] = "canceled"
                    return sub
                if sub["pending"]:
                    sub["plan"], sub["pending"] = sub["pending"], None
                sub["start"], sub["end"] = sub["end"], period_end(sub["end"], sub["interval"])
        return sub


def month_starts(first, last):
    months, moment = [], first
    while moment <= last:
        months.append(moment)
        moment = add_months(moment, 1)
    return months


def ratio(numerator, denominator):
    return None if denominator == 0 else numerator / denominator


def divide_rounded(value, divisor):
    """value / divisor to the nearest integer, halves away from zero."""
    quotient, remainder = divmod(abs(value), divisor)
    if remainder * 2 >= divisor:
        quotient += 1
    return quotient if value >= 0 else -quotient


def report(simulation, currency, start, end):
    edges = month_starts(start, end)
    moves = sorted((m for m in simulation.movements if m[1] == currency), key=lambda m: m[0])
    trials = [t for t in simulation.trials if t["currency"] == currency]
    intervals = []
    for low, high in zip(edges, edges[1:]):
        before = [m for m in moves if m[0] < low]
        upto = [m for m in moves if m[0] < high]
        inside = [m for m in moves if low <= m[0] < high]

        def paying(history):
            mrr = {}
            for m in history:
                mrr[m[2]] = mrr.get(m[2], 0) + m[4]
            return sum(1 for value in mrr.values() if value > 0)

        totals = {kind: sum(m[4] for m in inside if m[3] == kind)
                  for kind in ("new", "expansion", "contraction", "churn", "reactivation")}
        mrr_start, mrr_end = sum(m[4] for m in before), sum(m[4] for m in upto)
        paying_start, paying_end = paying(before), paying(upto)
        churned = sum(1 for m in inside if m[3] == "churn")
        lost = -(totals["churn"] + totals["contraction"])
        won = totals["new"] + totals["expansion"] + totals["reactivation"]
        arpa = None if paying_end == 0 else divide_rounded(mrr_end, paying_end)
        ended = [t for t in trials if t["ended"] is not None and low <= t["ended"] < high]
        converted = sum(1 for t in ended if t["converted"])
        intervals.append({
            "start": low.strftime("%Y-%m-%dT%H:%M:%SZ"), "end": high.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "mrrStart": mrr_start, "mrrEnd": mrr_end, "movements": totals, "arr": mrr_end * 12,
            "payingCustomers": paying_end, "arpa": arpa,
            "logoChurnRate": ratio(churned, paying_start),
            "grossMrrChurnRate": ratio(lost, mrr_start),
            "netMrrChurnRate": ratio(lost - totals["expansion"] - totals["reactivation"], mrr_start),
            "quickRatio": ratio(won, lost),
            "ltv": None if churned == 0 or arpa is None else divide_rounded(arpa * paying_start, churned),
            "trialsStarted": sum(1 for t in trials if low <= t["started"] < high),
            "trialsConverted": converted, "trialConversionRate": ratio(converted, len(ended)),
        })
    return intervals


def percentile(values, p):
    """Nearest rank: the smallest value with at least p % of the values at or below it."""
    if not values:
        return None
    rank = max(1, -(-p * len(values) // 100))
    return sorted(values)[rank - 1]


def customers_report(simulation, start, end):
    edges = month_starts(start, end)
    signed = {c: h[0][0] for c, h in simulation.states.items()}
    first_paid = {}
    for customer, history in simulation.states.items():
        paying = [t for t, _, status in history if status in ("active", "past_due")]
        if paying:
            first_paid[customer] = paying[0]
    plans = sorted(simulation.catalog.plans, key=simulation.order)
    intervals = []
    for low, high in zip(edges, edges[1:]):
        by_plan = {plan: 0 for plan in plans}
        by_status = {status: 0 for status in ("free", "trialing", "active", "past_due", "canceled")}
        existing = 0
        for history in simulation.states.values():
            before = [state for state in history if state[0] < high]
            if before:
                existing += 1
                by_plan[before[-1][1]] += 1
                by_status[before[-1][2]] += 1
        converted = sum(1 for t in first_paid.values() if low <= t < high)
        candidates = sum(1 for c, t in signed.items() if t < high and (c not in first_paid or first_paid[c] >= low))
        intervals.append({
            "start": low.strftime("%Y-%m-%dT%H:%M:%SZ"), "end": high.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "customers": existing, "byPlan": by_plan, "byStatus": by_status,
            "signUps": sum(1 for t in signed.values() if low <= t < high),
            "freeToPaid": converted, "freeToPaidRate": ratio(converted, candidates),
        })
    return intervals


def usage_report(simulation, low, high):
    facts = [f for f in simulation.facts if low <= f[0] < high]
    rows = []
    for feature, plan in sorted({(f[2], f[3]) for f in facts}, key=lambda k: (k[0], simulation.order(k[1]))):
        group = [f for f in facts if f[2] == feature and f[3] == plan]
        totals = {}
        for f in group:
            if f[4] == "allowed":
                totals[f[1]] = totals.get(f[1], 0) + f[5]
        usage = [v for v in totals.values() if v > 0]
        seen = {f[1] for f in group}
        at_limit = {f[1] for f in group if f[4] in LIMIT_REASONS}
        prompts = {}
        for f in group:
            if f[6] is not None and f[4] != "allowed":
                prompts[f[1]] = min(prompts.get(f[1], f[0]), f[0])
        upgraded = 0
        for customer, prompt in prompts.items():
            if any(prompt < t <= prompt + dt.timedelta(days=14) and simulation.order(p) > simulation.order(plan)
                   for t, p, _ in simulation.states[customer]):
                upgraded += 1
        rows.append({
            "feature": feature, "plan": plan, "activeCustomers": len(usage), "totalUsage": sum(usage),
            "medianPerCustomer": percentile(usage, 50), "p90PerCustomer": percentile(usage, 90),
            "customersAtLimit": len(at_limit), "limitHitRate": ratio(len(at_limit), len(seen)),
            "refusals": {reason: sum(1 for f in group if f[4] == reason) for reason in REASONS},
            "upgradePrompts": len(prompts), "upgradedWithin14Days": upgraded,
            "limitToUpgradeRate": ratio(upgraded, len(prompts)),
        })
    return rows


def day_of(moment):
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def active_days(simulation):
    """(customer, UTC day) with any consume, allowed or refused, or tracked event that day."""
    return {(f[1], day_of(f[0])) for f in simulation.facts} | {(t[1], day_of(t[0])) for t in simulation.tracked}


def activity_report(simulation, low, high):
    active = active_days(simulation)
    by_day = {}
    for customer, day in active:
        by_day.setdefault(day, set()).add(customer)
    days, day = [], low
    while day < high:
        def distinct(count):
            seen = set()
            for back in range(count):
                seen |= by_day.get(day - dt.timedelta(days=back), set())
            return len(seen)
        dau, mau = len(by_day.get(day, set())), distinct(30)
        days.append({"date": day.strftime("%Y-%m-%d"), "dau": dau, "wau": distinct(7), "mau": mau,
                     "stickiness": ratio(dau, mau)})
        day += dt.timedelta(days=1)
    return days


def adoption_report(simulation, low, high, features):
    active = {c for c, day in active_days(simulation) if low <= day < high}
    counts = {("feature", f): set() for f in features}
    for f in simulation.facts:
        if low <= f[0] < high and f[4] == "allowed":
            counts.setdefault(("feature", f[2]), set()).add(f[1])
    for t in simulation.tracked:
        if low <= t[0] < high:
            counts.setdefault(("event", t[2]), set()).add(t[1])
    entries = [{"source": source, "name": name, "customers": len(who), "share": ratio(len(who), len(active))}
               for (source, name), who in counts.items()]
    entries.sort(key=lambda e: (e["source"], -e["customers"], e["name"]))
    return {"activeCustomers": len(active), "adoption": entries}


def retention_report(simulation, start, end):
    months = month_starts(start, end)
    def index(moment):
        for i, (low, high) in enumerate(zip(months, months[1:])):
            if low <= moment < high:
                return i
        return None
    active_months = {}
    for customer, day in active_days(simulation):
        i = index(day)
        if i is not None:
            active_months.setdefault(customer, set()).add(i)
    cohorts = []
    for i, low in enumerate(months[:-1]):
        members = [c for c, h in simulation.states.items() if index(h[0][0]) == i]
        active = [sum(1 for c in members if k in active_months.get(c, set())) for k in range(i, len(months) - 1)]
        cohorts.append({"month": low.strftime("%Y-%m"), "customers": len(members), "active": active,
                        "retention": [None if not members else a / len(members) for a in active]})
    return cohorts


def main():
    catalog_path, record_path, start_text, end_text = sys.argv[1:5]
    catalog = Catalog(catalog_path)
    with open(catalog_path) as handle:
        document = yaml.safe_load(handle)
    default_plan = document["defaultPlan"]
    features = [f for f, definition in document["features"].items() if definition["type"] != "boolean"]
    simulation = Simulation(catalog, default_plan)
    with open(record_path) as handle:
        record = json.load(handle)
    for event in record["events"]:
        simulation.apply(event)
    start = dt.datetime.fromisoformat(start_text).replace(tzinfo=UTC)
    end = dt.datetime.fromisoformat(end_text).replace(tzinfo=UTC)
    edges = month_starts(start, end)
    print(json.dumps({
        "revenue": {currency: report(simulation, currency, start, end) for currency in ("EUR", "USD")},
        "customers": customers_report(simulation, start, end),
        "usage": [usage_report(simulation, low, high) for low, high in zip(edges, edges[1:])],
        "activity": [activity_report(simulation, low, high)
                     for low, high in ((edges[0], edges[12]), (edges[12], edges[24]))],
        "adoption": [adoption_report(simulation, low, high, features) for low, high in zip(edges, edges[1:])],
        "retention": retention_report(simulation, start, end),
    }, sort_keys=True))


if __name__ == "__main__":
    main()
