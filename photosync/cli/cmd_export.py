"""photosync export."""
