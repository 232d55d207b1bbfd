"""Reading photo and video files: formats, hashes, metadata."""
