"""One-shot job: creates the example's JSON "database" if it is missing, then exits 0."""
import json
import os

path = os.environ.get("SHOP_DB", "../.devhost/shop.json")
os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
if not os.path.exists(path):
    with open(path, "w") as f:
        json.dump({"items": [{"id": 1, "name": "teapot"}, {"id": 2, "name": "kettle"}]}, f)
    print(f"created {path}")
else:
    print(f"{path} is up to date")
