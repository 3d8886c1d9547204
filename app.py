"""What gunicorn (`gunicorn app:app`) and `flask --app app` load."""
from webapp import create_app

app = create_app()
