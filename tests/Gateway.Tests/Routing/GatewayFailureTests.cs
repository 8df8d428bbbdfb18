using Distributed.Gateway.Routing;
using Yarp.ReverseProxy.Forwarder;

namespace Distributed.Gateway.Tests.Routing;

[Trait("Category", "Unit")]
public sealed class GatewayFailureTests
{
    [Theory]
    [InlineData(502)]
    [InlineData(503)]
    [InlineData(504)]
    public void BackendAnswer_502To504_IsAFailure(int status) => Assert.True(GatewayFailure.IsBackendFailure(null, status));

    [Theory]
    [InlineData(200)]
    [InlineData(302)]
    [InlineData(404)]
    [InlineData(429)]
    [InlineData(500)]
    [InlineData(501)]
    [InlineData(505)]
    [InlineData(507)]
    [InlineData(599)]
    public void BackendAnswer_AnyOtherStatus_IsNotAFailure(int status)
    {
        Assert.False(GatewayFailure.IsBackendFailure(null, status));
        Assert.False(GatewayFailure.IsBackendFailure(ForwarderError.None, status));
    }

    [Theory]
    [InlineData(ForwarderError.Request)]
    [InlineData(ForwarderError.RequestTimedOut)]
    [InlineData(ForwarderError.RequestBodyDestination)]
    [InlineData(ForwarderError.ResponseBodyDestination)]
    [InlineData(ForwarderError.ResponseHeaders)]
    [InlineData(ForwarderError.UpgradeResponseDestination)]
    [InlineData(ForwarderError.NoAvailableDestinations)]
    public void TransportErrorOrTimeout_IsAFailure_WhateverTheStatus(ForwarderError error)
    {
        Assert.True(GatewayFailure.IsBackendFailure(error, 502));
        Assert.True(GatewayFailure.IsBackendFailure(error, 200)); // the answer had started when the backend broke off
    }

    [Theory]
    [InlineData(ForwarderError.RequestCanceled)]
    [InlineData(ForwarderError.RequestBodyCanceled)]
    [InlineData(ForwarderError.ResponseBodyCanceled)]
    [InlineData(ForwarderError.RequestBodyClient)]
    [InlineData(ForwarderError.ResponseBodyClient)]
    [InlineData(ForwarderError.UpgradeRequestCanceled)]
    [InlineData(ForwarderError.UpgradeResponseCanceled)]
    [InlineData(ForwarderError.UpgradeRequestClient)]
    [InlineData(ForwarderError.UpgradeResponseClient)]
    [InlineData(ForwarderError.UpgradeActivityTimeout)]
    public void ClientThatWentAwayOrIdleTunnel_IsNotTheBackendsFailure(ForwarderError error)
    {
        Assert.False(GatewayFailure.IsBackendFailure(error, 502));
        Assert.False(GatewayFailure.IsBackendFailure(error, 200));
    }
}
