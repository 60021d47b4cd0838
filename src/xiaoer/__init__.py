"""Xiaoer (店小二): self-hosted intelligent customer service for e-commerce shops."""
