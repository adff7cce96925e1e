"""Scrapes a Prometheus endpoint and parses it with prometheus_client's own parser (what
Prometheus reads): prints JSON, {sample name: [[labels, value], ...]}.
  read_metrics.py URL
"""

import json
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

with urllib.request.urlopen(sys.argv[1], timeout=30) as response:
    text = response.read().decode()
samples = {}
for family in text_string_to_metric_families(text):
    for sample in family.samples:
        samples.setdefault(sample.name, []).append([sample.labels, sample.value])
print(json.dumps(samples, sort_keys=True))
