"""The rights-holder desk: speaks for the registered holders it represents, as the EU
enforcement portal does, answering customs' notices through the coordinator."""
