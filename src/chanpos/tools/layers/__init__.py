"""`chanpos layers`: every layer of a model with its output shape, and the defaults chanpos
would choose (the probed layer, the readout stages) and why."""
