"""The Qdrant gRPC front: RPC table, message walkers and the servicer."""
