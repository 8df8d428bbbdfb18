using Distributed.Gateway.Hardening;

namespace Distributed.Gateway.Tests.Hardening;

[Trait("Category", "Unit")]
public sealed class UnproxiableMethodsTests
{
    [Theory]
    [InlineData("GET")]
    [InlineData("POST")]
    [InlineData("DELETE")]
    [InlineData("PATCH")]
    [InlineData("OPTIONS")]
    [InlineData("PROPFIND")]
    public void OrdinaryAndExtensionMethods_AreProxied(string method) => Assert.True(UnproxiableMethods.CanProxy(method, isExtendedConnect: false));

    [Theory]
    [InlineData("CONNECT")]
    [InlineData("connect")]
    public void ConnectTunnel_IsNotProxied(string method) => Assert.False(UnproxiableMethods.CanProxy(method, isExtendedConnect: false));

    [Fact]
    public void ExtendedConnect_WebSocketsOverHttp2_IsProxied() => Assert.True(UnproxiableMethods.CanProxy("CONNECT", isExtendedConnect: true));
}
