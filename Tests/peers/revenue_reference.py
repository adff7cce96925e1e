"""An independent computation of Tollgate's revenue report (issue 13), for the oracle test.

It reads the catalog (prices) and the record a generator kept of what it did to Tollgate — sign-ups,
manual subscriptions, trials, plan changes and cancellations, the states it sent as Stripe, and the
scheduler's ticks — and computes, from that alone and from the definitions in docs/metrics.md,
every figure of GET /v1/analytics/revenue per calendar month and currency. It shares no code with
Tollgate: subscriptions, periods, MRR, movements and the report are worked out here again.

    python revenue_reference.py CATALOG.yaml RECORD.json FROM TO   (FROM, TO: 2025-01-01)

prints {"EUR": [month, ...], "USD": [...]} as JSON.
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


class Simulation:
    def __init__(self, catalog):
        self.catalog = catalog
        self.subs = {}  # id -> subscription
        self.paid_in = {}  # customer -> currencies it ever paid in
        self.movements = []  # (time, currency, customer, kind, amount)
        self.trials = []  # dicts: currency, started, ended, converted

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
        elif op != "signup":
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
                sub["status"] = "inactive"  # a manual trial has no card: back to free
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


def main():
    catalog_path, record_path, start_text, end_text = sys.argv[1:5]
    simulation = Simulation(Catalog(catalog_path))
    with open(record_path) as handle:
        record = json.load(handle)
    for event in record["events"]:
        simulation.apply(event)
    start = dt.datetime.fromisoformat(start_text).replace(tzinfo=UTC)
    end = dt.datetime.fromisoformat(end_text).replace(tzinfo=UTC)
    print(json.dumps({currency: report(simulation, currency, start, end) for currency in ("EUR", "USD")},
                     sort_keys=True))


if __name__ == "__main__":
    main()
