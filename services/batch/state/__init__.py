"""Job state: the Redis job store and its Lua scripts, the files on shared storage, the rq
queue, and restoring jobs Redis lost. ``backend.Backend`` bundles them."""
