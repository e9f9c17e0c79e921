"""The proposals pages' forms: the queue's filters (GET), the review decisions (POST), and
the editor, whose fields depend on the ruleset (one field per output, the inputs a condition
may use), so its classes are made per document by :func:`edit_form_class`.

The editor is plain WTForms: a ``FieldList`` of rules, each with a ``FieldList`` of
conditions and a sub-form of outputs. Without JavaScript, "Add a condition" is a submit
button that re-renders the form with one more empty row; a condition whose input is left
empty is dropped on save.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm  # type: ignore[import-untyped]
from wtforms import (  # type: ignore[import-untyped]
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional  # type: ignore[import-untyped]

from proposer.drafting import MAX_NOTE, MAX_RATIONALE, MAX_TITLE
from review_app.proposals.ruletext import OP_TEXT
from review_app.proposals.values import format_output
from rules.core.document import OPS, Document, Output

__all__ = [
    "OUTPUT_PREFIX",
    "AcceptForm",
    "ActivateForm",
    "ConditionForm",
    "EditForm",
    "FilterForm",
    "RejectForm",
    "edit_form_class",
    "output_field",
]

OUTPUT_PREFIX = "out_"  # output fields are named out_<output>: no clash with Form attributes
IMPACTS = ("low", "high")


class FilterForm(FlaskForm):  # type: ignore[misc]  # flask_wtf is untyped
    """The queue's filters (a GET form: no CSRF, nothing changes)."""

    class Meta:
        csrf = False

    ruleset = SelectField("Ruleset", validators=[Optional()], validate_choice=True)
    status = SelectField("Status", validators=[Optional()])
    author = StringField(
        "Author",
        validators=[Optional(), Length(max=100)],
        render_kw={"spellcheck": "false", "autocomplete": "off"},
    )
    impact = SelectField(
        "Impact",
        validators=[Optional()],
        choices=[SelectChoice("", "Any impact"), *(SelectChoice(i) for i in IMPACTS)],
    )


class AcceptForm(FlaskForm):  # type: ignore[misc]
    note = TextAreaField("Note for the record", validators=[Optional(), Length(max=MAX_NOTE)])


class RejectForm(FlaskForm):  # type: ignore[misc]
    reason = TextAreaField(
        "Reason for rejecting",
        validators=[
            DataRequired("Give the reason for rejecting: the author and the audit log keep it."),
            Length(max=MAX_NOTE),
        ],
    )


class ActivateForm(FlaskForm):  # type: ignore[misc]
    version = SelectField(
        "Version to activate",
        coerce=int,
        validate_choice=True,
        validators=[InputRequired("Choose the version to activate.")],
    )
    activation_note = TextAreaField(
        "Note for the record", validators=[Optional(), Length(max=MAX_NOTE)]
    )


OP_CHOICES = [SelectChoice(op, f"{OP_TEXT[op]} ({op})") for op in OPS]


class ConditionForm(Form):  # type: ignore[misc]  # one row: [not] input operator value
    negate = BooleanField("Not")
    input = SelectField("Input", validate_choice=False)
    op = SelectField("Operator", choices=OP_CHOICES, validate_choice=False)
    value = StringField("Value", render_kw={"spellcheck": "false", "autocomplete": "off"})


class EditForm(FlaskForm):  # type: ignore[misc]
    """The fields every editor has; :func:`edit_form_class` adds the rules."""

    stamp = HiddenField()  # the proposal's updated_at when the editor was opened
    title = StringField("Title", validators=[Optional(), Length(max=MAX_TITLE)])
    rationale = TextAreaField(
        "Rationale",
        validators=[
            DataRequired("Say why the change is right: reviewers read this first."),
            Length(max=MAX_RATIONALE),
        ],
    )
    citations = StringField(
        "Cited decisions", render_kw={"spellcheck": "false", "autocomplete": "off"}
    )
    operations_json = TextAreaField(
        "Operations (JSON)", render_kw={"spellcheck": "false", "rows": 14}
    )
    save = SubmitField("Save and re-run the evidence")
    save_json = SubmitField("Save the JSON operations")


def output_field(spec: Output) -> Any:
    """The field for one output: a select where the output has allowed values (or is a
    boolean), a text field otherwise. Empty means the rule leaves it to the default."""
    unset = "(not set)" if spec.default is None else f"(not set: default {spec.default})"
    label = spec.name + (f" — {spec.description}" if spec.description else "")
    values = spec.values or ((True, False) if spec.type == "boolean" else None)
    if values is not None:
        options = [SelectChoice("", unset), *(SelectChoice(format_output(v)) for v in values)]
        return SelectField(label, choices=options, validate_choice=False)
    return StringField(label, description=unset, render_kw={"autocomplete": "off"})


def edit_form_class(doc: Document) -> type[EditForm]:
    """The editor for proposals on ``doc``: its outputs become fields of each rule."""
    outputs = type(
        "OutputsForm",
        (Form,),
        {f"{OUTPUT_PREFIX}{o.name}": output_field(o) for o in doc.outputs},
    )
    rule = type(
        "RuleForm",
        (Form,),
        {
            "op_index": HiddenField(),
            "shape": HiddenField(),  # the condition's shape: none, leaf, all or json
            "rule_id": StringField("Rule id", render_kw={"spellcheck": "false"}),
            "position": SelectField("Place", coerce=int, validate_choice=False),
            "description": StringField("Description"),
            "conditions": FieldList(FormField(ConditionForm)),
            "when_json": TextAreaField("Condition (JSON)", render_kw={"spellcheck": "false"}),
            "outputs": FormField(outputs),
            "add_condition": SubmitField("Add a condition"),
        },
    )
    return type("RulesEditForm", (EditForm,), {"rules": FieldList(FormField(rule))})
