"""Scheduled jobs: one module each, run as `python -m app.jobs.<name>` by EventBridge Scheduler
(the CDK app's `ScheduledJobConfig`, one per job). A job reads the service's settings, does its
work with the stores, logs one JSON line per event and exits: 0 when its work is done (or
another run is doing it), non-zero when it failed, which tells on-call (README, "Workloads").
"""
