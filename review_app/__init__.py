"""The Flask review application (arrives with the review-app issue)."""
