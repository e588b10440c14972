"""Local stand-ins of Cloud Batch (gRPC, tasks as Docker containers) and Cloud Storage."""
