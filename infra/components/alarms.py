"""Alarms: Lambda errors and throttles, API 5xx, and a monthly cost budget, all to one SNS topic.

The relay has no push queue yet (Web Push is delivered by the relay's Lambda itself), so there
is no dead-letter queue to watch; when one lands, its `ApproximateNumberOfMessagesVisible`
alarm belongs here.
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

_PERIOD = cdk.Duration.minutes(5)


class RelayAlarms(Construct):
    """Exposes `topic`, `alarms` (name -> alarm) and `budget`."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function_names: Mapping[str, str],
        rest_api_name: str,
        api_stage: str,
        websocket_api_id: str,
        budget_usd: int,
        email: str,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, id)
        self.topic = sns.Topic(
            self, "Topic", display_name="SkyCam relay alarms", master_key=key, enforce_ssl=True
        )
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        for name, deployed in function_names.items():
            for metric in ("Errors", "Throttles"):
                self._alarm(
                    f"{name}{metric}",
                    cloudwatch.Metric(
                        namespace="AWS/Lambda",
                        metric_name=metric,
                        dimensions_map={"FunctionName": deployed},
                        statistic="Sum",
                        period=_PERIOD,
                    ),
                    f"The relay's {name} Lambda reports {metric.lower()}",
                )
        self._alarm(
            "RestApi5xx",
            cloudwatch.Metric(
                namespace="AWS/ApiGateway",
                metric_name="5XXError",
                dimensions_map={"ApiName": rest_api_name, "Stage": api_stage},
                statistic="Sum",
                period=_PERIOD,
            ),
            "The relay's REST API answered 5xx",
        )
        for metric in ("IntegrationError", "ExecutionError"):
            self._alarm(
                f"WebSocket{metric}",
                cloudwatch.Metric(
                    namespace="AWS/ApiGateway",
                    metric_name=metric,
                    dimensions_map={"ApiId": websocket_api_id, "Stage": api_stage},
                    statistic="Sum",
                    period=_PERIOD,
                ),
                f"The relay's WebSocket API reports {metric}",
            )
        # Budgets publish to the topic: it must let them, and its key must too.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["sns:Publish"],
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                resources=[self.topic.topic_arn],
            )
        )
        key.grant(
            iam.ServicePrincipal("budgets.amazonaws.com"), "kms:GenerateDataKey*", "kms:Decrypt"
        )
        key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:GenerateDataKey*", "kms:Decrypt"
        )
        subscriber = budgets.CfnBudget.SubscriberProperty(
            subscription_type="SNS", address=self.topic.topic_arn
        )
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=budget_usd, unit="USD"),
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type=kind,
                        comparison_operator="GREATER_THAN",
                        threshold=threshold,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=[subscriber],
                )
                for kind, threshold in (("ACTUAL", 80), ("FORECASTED", 100))
            ],
        )

    def _alarm(self, id: str, metric: cloudwatch.Metric, description: str) -> None:
        alarm = metric.create_alarm(
            self,
            id,
            alarm_description=description,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms[id] = alarm
