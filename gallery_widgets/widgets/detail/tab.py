"""The base of every tab of the details page: a view, and for the publisher an Edit form."""

from __future__ import annotations

import ipywidgets as w

from ..common import row, shows_errors
from .parts import hidden, is_hidden


class DetailTab(w.VBox):
    """One tab: ``view`` (always), and when the viewer may edit and the tab has a form,
    ``edit_button`` / ``save_button`` / ``cancel_button`` around ``form``.

    Subclasses build their view in ``build()`` and their edit form in ``build_form()`` (None:
    not editable; called only for the publisher or an admin), draw the asset in ``render()``, fill the form in ``fill()`` and return the service's new
    ``Asset`` (or None) from ``save()``. ``owner`` is the AssetDetail: the gallery, the asset,
    ``messages`` and ``apply(asset)`` (redraw every part).
    """

    name = ""

    def __init__(self, owner):
        super().__init__(layout=w.Layout(padding="8px 4px"))
        self.owner = owner
        self.add_class("gw-tab-page")
        self.add_class(f"gw-tab-{self.name.lower()}")
        self.view = self.build()
        self.edit_button = self.save_button = self.cancel_button = self.form = None
        # the edit form is built only for who may edit (P10): viewers open the page faster
        form = self.build_form() if owner.can_edit else None
        if form is None:
            self.children = (self.view,)
            return
        self.edit_button = w.Button(description="Edit", icon="pencil", layout=w.Layout(width="auto"))
        self.edit_button.add_class("gw-edit")
        self.edit_button.on_click(lambda _b: self.start_edit())
        self.save_button = w.Button(description="Save", button_style="primary")
        self.save_button.add_class("gw-save")
        self.save_button.on_click(self._on_save)
        self.cancel_button = w.Button(description="Cancel")
        self.cancel_button.on_click(lambda _b: self.stop_edit())
        self.form = w.VBox([form, row([self.save_button, self.cancel_button], margin="6px 0 0 0")])
        self.form.add_class("gw-edit-form")
        hidden(self.form)
        self.children = (w.HBox([self.edit_button], layout=w.Layout(justify_content="flex-end")), self.view, self.form)

    # what the tabs read from the page
    @property
    def g(self):
        return self.owner.g

    @property
    def asset(self):
        return self.owner.asset

    @property
    def content_id(self) -> str:
        return self.owner.content_id

    @property
    def messages(self):
        return self.owner.messages

    # -- subclasses ----------------------------------------------------------------------------
    def build(self):
        raise NotImplementedError

    def build_form(self):
        return None

    def render(self) -> None:
        raise NotImplementedError

    def fill(self) -> None:
        """Fill the edit form from the asset."""

    def save(self):
        """Send the form's changes; return the new Asset or None when nothing changed."""
        return None

    # -- editing -------------------------------------------------------------------------------
    @property
    def editing(self) -> bool:
        return self.form is not None and not is_hidden(self.form)

    @shows_errors
    def start_edit(self) -> None:
        """Turn the tab into its edit form, filled from the asset."""
        self.messages.clear()
        self.fill()
        hidden(self.view)
        hidden(self.edit_button)
        hidden(self.form, False)
        self.owner.show_tab(self.name)

    def stop_edit(self) -> None:
        """Leave the edit form without saving."""
        if self.form is None:
            return
        hidden(self.form)
        hidden(self.view, False)
        hidden(self.edit_button, False)

    @shows_errors
    def _on_save(self, _button=None) -> None:
        self.messages.clear()
        result = self.save()
        if result is not None:
            self.owner.apply(result)
        self.stop_edit()
        self.messages.ok("Saved.")
