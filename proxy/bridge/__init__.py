"""The cross-version query bridge: a learned map from one model version's space into
another's, so that queries of the new version can be answered from the old index."""
