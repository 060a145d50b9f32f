"""The app's entry point: `python serve.py run Home.py`, which is `streamlit run Home.py` with Nagle's
algorithm off (./start_app.sh does it for you; plain `streamlit run Home.py` works too, 40 ms slower
a click).

It only runs the frame (page config, settings, current user, navigation); the pages live in app_pages/.
"""

from components.frame import run_frame

run_frame()
