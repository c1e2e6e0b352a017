"""The subscribe panel: what the service says must be accepted (the constraints, the
agreements), then Continue (SPEC SUB1, SUB2)."""

from __future__ import annotations

import ipywidgets as w

from ..common import esc, row
from .parts import constraints_html, hidden

CONSTRAINTS_ID = "version-constraints"  # what AgreementRequired.missing names for the constraints


class SubscribePanel(w.VBox):
    """Parts: ``constraints_html``, ``accept_constraints``, ``agreements_html``,
    ``accept_agreements``, ``continue_button``, ``close_button``."""

    def __init__(self, on_continue):
        super().__init__()
        self._on_continue = on_continue
        self.add_class("gw-panel")
        self.add_class("gw-subscribe-panel")
        hidden(self)

    def _build(self) -> None:
        """The panel's parts, made the first time it is shown (most pages never show it)."""
        on_continue = self._on_continue
        self.constraints_html = w.HTML()
        self.accept_constraints = w.Checkbox(value=False, description="I accept the constraints", indent=False,
                                             layout=w.Layout(width="auto"))
        self.accept_constraints.add_class("gw-accept-constraints")
        self.agreements_html = w.HTML()
        self.accept_agreements = w.Checkbox(value=False, description="I have read and agree", indent=False,
                                            layout=w.Layout(width="auto"))
        self.accept_agreements.add_class("gw-accept-agreements")
        self.continue_button = w.Button(description="Continue", button_style="primary")
        self.continue_button.add_class("gw-continue")
        self.continue_button.on_click(on_continue)
        self.close_button = w.Button(description="Cancel")
        self.close_button.on_click(lambda _b: hidden(self))
        self.constraints_part = w.VBox([self.constraints_html, self.accept_constraints])
        self.agreements_part = w.VBox([self.agreements_html, self.accept_agreements])
        self.children = (
            w.HTML('<div class="gw-title">Subscribe</div>'),
            self.constraints_part,
            self.agreements_part,
            row([self.continue_button, self.close_button]),
        )

    def ask(self, missing, asset, constraints_of, agreements) -> None:
        """Show what must be accepted; ``constraints_of()`` reads the constraints when needed;
        ``agreements`` are the service's (``g.agreements()``)."""
        if not hasattr(self, "continue_button"):
            self._build()
        needs_constraints = CONSTRAINTS_ID in missing
        texts = [a for a in agreements if a.id in missing]
        if needs_constraints:
            latest = asset.latest_version
            version = f" of version {esc(latest.version)}" if latest else ""
            self.constraints_html.value = (
                f"<div><b>Constraints{version}</b></div>"
                '<div class="gw-muted">Prepare your environment for these before you use the asset.</div>'
                f'<div style="margin:4px 0">{constraints_html(constraints_of())}</div>'
            )
        self.agreements_html.value = "".join(
            f'<div class="gw-agreement"><b>{esc(a.title)} (version {esc(a.version)})</b>{esc(a.text)}</div>'
            for a in texts
        )
        self.accept_constraints.value = False
        self.accept_agreements.value = False
        hidden(self.constraints_part, not needs_constraints)
        hidden(self.agreements_part, not texts)
        hidden(self, False)
