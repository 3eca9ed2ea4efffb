"""Code shared by every My-SaaS-Chat service: config, HTTP plumbing, DB, sessions."""
