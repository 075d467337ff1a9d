"""The desktop studio (PySide6 widgets): the only package that imports QtWidgets."""
