"""How jobs run: genlab's DDP launcher under Hydra (``ddp``), one job's lifetime in a sweep
(``job``), and the Hydra callback that names and tags a sweep's W&B runs (``sweep``)."""
