"""Alembic environment: runs on the engine handed over by ``store.migrate``."""

from alembic import context

from gallery_widgets.store.schema import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
