"""Parses Prometheus text from stdin with prometheus_client's parser (an
independent implementation of the format) and prints every sample as JSON:
[[name, {labels}, value], ...]. A parse error exits non-zero with the
parser's message."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

text = sys.stdin.read()
samples = []
types = {}
for family in text_string_to_metric_families(text):
    types[family.name] = family.type
    for sample in family.samples:
        samples.append([sample.name, sample.labels, sample.value])
json.dump({"types": types, "samples": samples}, sys.stdout)
