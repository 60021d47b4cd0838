"""The demo shop 小二优选旗舰店: `seed.seed_demo_shop`, `seed.seed_if_empty`,
`seed.demo_shop_summary`; content in `catalog` (products, people, places) and `scripts`."""
