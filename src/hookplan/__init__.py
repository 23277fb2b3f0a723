"""hookplan: manage HYPR-style custom event hooks the way Terraform manages infrastructure, and run them."""

__version__ = "0.1.0"
