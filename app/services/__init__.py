"""Services: the application's logic between the GraphQL schema and the database or engine."""
