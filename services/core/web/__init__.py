"""HTTP pieces shared by the inference and batch APIs: request ids, API keys, errors, limits."""
