"""The local reference service (Starlette + uvicorn + SQLite); never imports studio/ or service/."""
