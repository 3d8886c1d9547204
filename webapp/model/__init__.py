"""The model behind the served index: GET /model, GET /api/index and the training pictures."""
