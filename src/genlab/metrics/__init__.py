"""Metrics. Sample quality: ``extractors`` (InceptionV3 / digits classifier), ``fidelity``
(torchmetrics Metrics FID, IS, KID, PR), ``collection`` (all of them over one extractor pass),
``functional`` (scores from features), ``cache`` (reference features on disk), ``protocol``
(how a score was computed), ``weights`` (where the Inception weights come from).
Toy 2D mode coverage: ``toy2d``. Nothing is imported here, so each module loads on its own."""
