"""The platform every stage and surface stands on: settings, the engine, the lake and its Delta
reads, as-of reads, publication, the writer lease, staging, maintenance and the masking policy.

Nothing here knows a stage or a surface: the pipeline and serving import the platform, never
the other way round (.importlinter).
"""
