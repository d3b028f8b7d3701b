"""What a project keeps between builds: the cache, the lock file, the journal, the workspace."""
