"""The run pipeline of genlab-train and genlab-eval: config validation, model/data checks
and adaptation, instantiation, resume checks."""
