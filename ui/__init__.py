"""The browser chat (gradio): `python -m ui.app`."""
