#!/usr/bin/env python3
# A copy of ../shared/tools/aef_check.py (the AEF format checker), kept so that the tests can run
# it on machines that have only this repository. The tests prefer ../shared/tools when present.
"""Checks AEF workbooks (Article 6.2 annual information) against the published layout rules.

Rules: decision 6/CMA.4 annex I para 5 identifier pattern and the field rules used by the
UNFCCC's AEF sheet checks (sheet names, labels, controlled values, formats), plus consistency
checks of our own: quantity equals the span of first..last ID, every Table 3/4 row has its
Table 2 authorization, no serial range listed twice in Table 4.
Usage: aef_check.py WORKBOOK.xlsx ...   exit 0 when every workbook passes.
"""
import datetime
import re
import sys

from openpyxl import load_workbook

ITMO_ID = r"CA\d{4}-[A-Z]{3}\d{2}-[A-Z]{3}-[1-9]\d{0,2}((\d*)|(,\d{3})*)-\d{4}"
SHEETS = ["Table 1 Submission", "Table 2 Authorizations", "Table 3 Actions",
          "Table 4 Holdings", "Table 5 Auth. entities"]
T1_LABELS = ["Party", "Version", "Reported year", "Date of submission",
             "Review status of the initial report",
             "First year of the NDC implementation period",
             "Last year of the NDC implementation period"]
DATE = "dd/mm/yyyy"
T2 = [("Authorization ID", r"[A-Za-z0-9 \-/.]+"), ("Date of authorization", DATE),
      ("Cooperative approach ID", r"CA\d{4}"), ("Version of the authorization", r"\d+(\.\d+)?"),
      ("Authorized quantity", r"blankable|NA|\d+(\.\d+)?"), ("Metric", r"GHG|non-GHG"),
      ("Purposes for authorization", r"NDC|OIMP|NDC and OIMP"),
      ("First transfer definition for OIMP", r"blankable|NA|Authorization|Issuance|Use or cancellation")]
T3 = [("Action date", DATE), ("Action type", r"Acquisition|Transfer|Use|Cancellation|First transfer"),
      ("Cooperative approach ID", r"CA\d{4}"), ("Authorization ID", r"[A-Za-z0-9 \-/.]+"),
      ("First transferring participating Party ID", r"[A-Z]{3}"),
      ("Party ITMO registry ID", r"[A-Z]{3}\d{2}"), ("First ID", ITMO_ID), ("Last ID", ITMO_ID),
      ("Metric", r"GHG|non-GHG"), ("Quantity (t CO2 eq)", r"blankable|NA|\d+"),
      ("Vintage", r"blankable|NA|\d{4}"),
      ("Transferring participating Party ID", r"blankable|NA|[A-Z]{3}"),
      ("Acquiring participating Party ID", r"blankable|NA|[A-Z]{3}"),
      ("Using/cancelling participating Party ID", r"blankable|NA|[A-Z]{3}"),
      ("Calendar year for which the ITMOs are used towards the Party's NDC", r"blankable|NA|\d{4}")]
T4 = [("Cooperative approach ID", r"CA\d{4}"), ("Authorization ID", r"[A-Za-z0-9 \-/.]+"),
      ("First transferring participating Party ID", r"[A-Z]{3}"),
      ("Party ITMO registry ID", r"[A-Z]{3}\d{2}"), ("First ID", ITMO_ID), ("Last ID", ITMO_ID),
      ("Metric", r"GHG|non-GHG"), ("Quantity (t CO2 eq)", r"blankable|NA|\d+"), ("Vintage", r"\d{4}")]
T5 = [("Date of the authorization", "blankable|" + DATE), ("Name", r".+"),
      ("Cooperative approach ID", r"blankable|CA\d{4}")]


def text(v):
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def ok(value, rule):
    if rule == DATE or rule.endswith("|" + DATE):
        if value is None or text(value) == "":
            return rule.startswith("blankable")
        if isinstance(value, (datetime.date, datetime.datetime)):
            return True
        return re.fullmatch(r"\d{2}/\d{2}/\d{4}", text(value)) is not None
    alternatives = rule.split("|")
    t = text(value)
    if t == "" and "blankable" in alternatives:
        return True
    return re.fullmatch(rule.replace("blankable|", ""), t) is not None


def find_header(ws, first_label):
    for row in ws.iter_rows(min_row=1, max_row=min(ws.max_row, 40)):
        for cell in row:
            if text(cell.value).casefold() == first_label.casefold():
                return cell.row
    return None


def table(ws, fields, errors, name):
    header = find_header(ws, fields[0][0])
    if header is None:
        errors.append(f"{name}: no header row with '{fields[0][0]}'")
        return []
    columns = {text(c.value).casefold(): c.column for c in ws[header] if text(c.value)}
    for label, _ in fields:
        if label.casefold() not in columns:
            errors.append(f"{name}: no column '{label}'")
    rows = []
    for r in range(header + 1, ws.max_row + 1):
        values = {label: ws.cell(r, columns[label.casefold()]).value
                  for label, _ in fields if label.casefold() in columns}
        if all(text(v) == "" for v in values.values()):
            continue
        for label, rule in fields:
            if label in values and not ok(values[label], rule):
                errors.append(f"{name} row {r}: '{label}' = {text(values[label])!r} breaks {rule}")
        rows.append(values)
    return rows


def serial(itmo_id):
    return int(itmo_id.split("-")[3].replace(",", ""))


def span_check(rows, errors, name):
    for i, row in enumerate(rows):
        first, last, qty = text(row.get("First ID")), text(row.get("Last ID")), text(row.get("Quantity (t CO2 eq)"))
        if not (re.fullmatch(ITMO_ID, first) and re.fullmatch(ITMO_ID, last)):
            continue
        a, b = serial(first), serial(last)
        if b < a:
            errors.append(f"{name} row {i + 1}: Last ID before First ID")
        elif qty.isdigit() and int(qty) != b - a + 1:
            errors.append(f"{name} row {i + 1}: quantity {qty} but ids span {b - a + 1}")


def check(path):
    errors = []
    wb = load_workbook(path, data_only=True)
    for s in SHEETS:
        if s not in wb.sheetnames:
            errors.append(f"missing sheet '{s}' (has {wb.sheetnames})")
    if errors:
        return errors, False
    ws = wb["Table 1 Submission"]
    labels = {text(c.value).casefold(): c for row in ws.iter_rows() for c in row if text(c.value)}
    for label in T1_LABELS:
        if label.casefold() not in labels:
            errors.append(f"Table 1: no label '{label}'")
    party = labels.get("party")
    if party is not None and not re.fullmatch(r"[A-Z]{3}", text(ws.cell(party.row, party.column + 1).value)):
        errors.append("Table 1: the cell right of 'Party' is not an ISO 3166 alpha-3 code (Table 1 is a form: labels down one column, each value in the cell to its right)")
    auths = table(wb["Table 2 Authorizations"], T2, errors, "Table 2")
    actions = table(wb["Table 3 Actions"], T3, errors, "Table 3")
    holdings = table(wb["Table 4 Holdings"], T4, errors, "Table 4")
    table(wb["Table 5 Auth. entities"], T5, errors, "Table 5")
    auth_ids = {text(a.get("Authorization ID")) for a in auths}
    for name, rows in (("Table 3", actions), ("Table 4", holdings)):
        for i, row in enumerate(rows):
            if text(row.get("Authorization ID")) not in auth_ids:
                errors.append(f"{name} row {i + 1}: authorization {text(row.get('Authorization ID'))!r} not in Table 2")
    span_check(actions, errors, "Table 3")
    span_check(holdings, errors, "Table 4")
    seen = set()
    for row in holdings:
        key = (text(row.get("First ID")), text(row.get("Last ID")))
        if key in seen:
            errors.append(f"Table 4: range {key} listed twice")
        seen.add(key)
    return errors, bool(actions or holdings)


def main():
    failed = reported = 0
    for path in sys.argv[1:]:
        errors, has_rows = check(path)
        for e in errors[:20]:
            print(f"{path}: {e}")
        failed += bool(errors)
        reported += has_rows
    total = len(sys.argv) - 1
    print(f"aef_check: {total - failed} passed, {failed} failed, {reported} with actions or holdings")
    return 1 if failed or reported == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
