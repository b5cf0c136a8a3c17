"""The browser chat (gradio): `python -m ui.app`.

Set before any module of this package imports gradio (or chromadb): no analytics, no model hub, nothing
leaves the machine."""

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
