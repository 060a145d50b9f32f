"""The app's entry point: `streamlit run Home.py` (./start_app.sh does it for you).

It only runs the frame (page config, settings, current user, navigation); the pages live in app_pages/.
"""

from components.frame import run_frame

run_frame()
