"""The real-time scoring service: routes → data plane (scoring) → model runtime."""
