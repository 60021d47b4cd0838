"""The seeded demo shop: an apparel-and-electronics store with customers, orders and scripts."""
