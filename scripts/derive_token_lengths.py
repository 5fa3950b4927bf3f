"""Fit the lognormal token-length defaults of synthetic inference arrivals to the Azure 2023 conversation trace.

Run: python scripts/derive_token_lengths.py [path to AzureLLMInferenceTrace_conv_2023.csv]
Prints the median and log-standard deviation of prompt and output tokens, the figures written as the
defaults of ``SyntheticArrivals`` in ``src/wattscale/scenario/workloads.py``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from wattscale.compute.traces import read_azure_trace

default = Path(os.environ.get("WATTSCALE_DATA", "../shared/data")) / "llm_request_traces" / \
    "AzureLLMInferenceTrace_conv_2023.csv"
trace = read_azure_trace(sys.argv[1] if len(sys.argv) > 1 else default)
for name, tokens in (("prompt", trace.prompt_tokens), ("output", trace.output_tokens)):
    logs = np.log(np.maximum(tokens, 1))
    print(f"{name}_tokens_median: {np.exp(np.median(logs)):.0f}   {name}_tokens_sigma: {logs.std():.2f}")
print(f"mean rate: {len(trace) / trace.span_s:.2f} requests/s over {trace.span_s:.0f} s")
