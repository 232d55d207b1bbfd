"""HTTP fakes of the services photosync talks to (never imported by the product)."""
