"""`chanpos consistency`: top-1 and shift consistency (Zhang 2019) of a trained classifier."""
