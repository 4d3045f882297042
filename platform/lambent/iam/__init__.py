"""Identity and access: tenants, their members, and the access keys that act for them."""
