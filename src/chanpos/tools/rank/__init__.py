"""`chanpos rank`: rank any layer's channels of any model by flip difference."""
