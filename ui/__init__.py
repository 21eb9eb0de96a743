"""The PySide6 kiosk. Only this package imports Qt; it talks to `scanner/` through small interfaces."""
