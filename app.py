"""The SMS dashboard: ``streamlit run app.py``. The shell (login, navigation, sidebar) is ui.shell."""

from ui.shell import run_app

run_app()
