"""WebSub push: hub discovery, subscriptions, the callback listener (issue 10)."""
